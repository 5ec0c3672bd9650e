#include "nn/config.h"

#include <algorithm>

#include "core/error.h"
#include "io/json_fields.h"
#include "io/json_reader.h"
#include "nn/mixer_factory.h"

namespace tinyr2::nn {

namespace {

constexpr const char* kContext = "config";

// A non-empty list of strings, each one of `allowed`; returns their indices.
std::vector<int> string_list(io::JsonFields& f, const std::string& key,
                             const std::vector<std::string>& allowed) {
  const auto& v = f.raw(key);
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  if (!v.is_array() || v.empty())
    f.error(key, fmt::format("must be a non-empty list of {}, got {}", list, io::json_excerpt(v)));
  std::vector<int> out;
  for (const auto& e : v) {
    int found = -1;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (e.is_string() && e.get<std::string>() == allowed[i]) found = static_cast<int>(i);
    if (found < 0)
      f.error(key, fmt::format("entry {} must be one of {}", io::json_excerpt(e), list));
    out.push_back(found);
  }
  return out;
}

BranchSet parse_mode(io::JsonFields& f, const nlohmann::json& e) {
  if (e.is_string()) {
    const std::string s = e.get<std::string>();
    if (s == "NSA") return {true, true, true};
    if (s == "SWA") return {true, false, true};
    if (s == "DSA") return {true, true, false};
  } else if (e.is_array() && e.size() == 3) {
    BranchSet b{};
    bool any = false, ok = true;
    for (size_t i = 0; i < 3; ++i) {
      if (!e[i].is_number_integer() || (e[i].get<int64_t>() != 0 && e[i].get<int64_t>() != 1))
        ok = false;
      else
        b[i] = e[i].get<int64_t>() == 1, any = any || b[i];
    }
    if (ok && any) return b;
  }
  f.error("attention_mode",
          fmt::format(
              "entry {} must be \"NSA\", \"SWA\", \"DSA\" or [b1,b2,b3] of 0/1 with at least one 1",
              io::json_excerpt(e)));
}

}  // namespace

const char* router_name(Router r) {
  switch (r) {
    case Router::TopK:
      return "topk";
    case Router::Attention:
      return "attention";
    case Router::ExpertChoice:
      return "expert_choice";
    default:
      return "deepseek";
  }
}

Router router_from_name(const std::string& s) {
  for (Router r : {Router::Deepseek, Router::TopK, Router::Attention, Router::ExpertChoice})
    if (s == router_name(r)) return r;
  fail(
      "{}: \"router\" must be \"deepseek\", \"topk\", \"attention\" or \"expert_choice\", "
      "got \"{}\"",
      kContext, s);
}

const char* glu_activation_name(GluActivation a) {
  switch (a) {
    case GluActivation::Gelu:
      return "gelu";
    case GluActivation::Relu:
      return "relu";
    case GluActivation::Sigmoid:
      return "sigmoid";
    case GluActivation::Bilinear:
      return "bilinear";
    default:
      return "silu";
  }
}

GluActivation glu_activation_from_name(const std::string& s) {
  for (GluActivation a : {GluActivation::Silu, GluActivation::Gelu, GluActivation::Relu,
                          GluActivation::Sigmoid, GluActivation::Bilinear})
    if (s == glu_activation_name(a)) return a;
  fail(
      "{}: \"glu_activation\" must be one of \"silu\", \"gelu\", \"relu\", \"sigmoid\", "
      "\"bilinear\", got \"{}\"",
      kContext, s);
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  io::JsonFields f(j, kContext);
  constexpr int64_t kBig = int64_t{1} << 31;
  f.integer("vocab_size", c.vocab_size, 1, kBig);
  f.integer("ctx_len", c.ctx_len, 1, kBig);
  f.integer("n_embd", c.n_embd, 1, kBig);
  f.integer("n_head", c.n_head, 1, kBig);
  f.integer("n_layer", c.n_layer, 1, 4096);
  if (f.has("attention_types")) {
    // The names come from the sequence-mixer table (nn/mixer_factory.h).
    std::vector<std::string> names;
    for (const MixerType& m : mixer_types()) names.emplace_back(m.name);
    c.attention_types.clear();
    for (int i : string_list(f, "attention_types", names))
      c.attention_types.push_back(mixer_types()[static_cast<size_t>(i)].type);
  }
  if (f.has("attention_mode")) {
    const auto& v = f.raw("attention_mode");
    if (!v.is_array() || v.empty())
      f.error("attention_mode",
              fmt::format("must be a non-empty list, got {}", io::json_excerpt(v)));
    // A bare [b1,b2,b3] triple is one mode, not a list of three.
    std::vector<nlohmann::json> entries;
    if (v.size() == 3 && v[0].is_number())
      entries.push_back(v);
    else
      for (const auto& e : v) entries.push_back(e);
    c.attention_mode.clear();
    c.attention_mode_json = entries;
    for (const auto& e : entries) c.attention_mode.push_back(parse_mode(f, e));
  }
  if (f.has("types")) {
    c.types.clear();
    for (int i : string_list(f, "types", {"mlp", "moe", "glu"}))
      c.types.push_back(static_cast<FfnType>(i));
  }
  f.integer("n_experts", c.n_experts, 2, 4096);
  f.integer("num_exp", c.num_exp, 1, 4096);
  f.integer("moe_hidden", c.moe_hidden, 1, kBig);
  f.number("gate_noise", c.gate_noise, 0.0, 2.0);
  f.number("expert_bias_rate", c.expert_bias_rate, 0.0);
  f.number("moe_balance_coef", c.moe_balance_coef, 0.0);
  // SPEC §11.
  f.integer("glu_hidden", c.glu_hidden, 1, kBig);
  std::string sel;
  f.choice("glu_activation", sel, {"silu", "gelu", "relu", "sigmoid", "bilinear"});
  if (!sel.empty()) c.glu_activation = glu_activation_from_name(sel);
  sel.clear();
  f.choice("moe_expert", sel, {"mlp", "glu"});
  if (!sel.empty()) c.moe_expert = sel == "glu" ? MoeExpert::Glu : MoeExpert::Mlp;
  sel.clear();
  f.choice("router", sel, {"deepseek", "topk", "attention", "expert_choice"});
  if (!sel.empty()) c.router = router_from_name(sel);
  f.number("moe_aux_coef", c.moe_aux_coef, 0.0);
  f.number("capacity_factor", c.capacity_factor, 0.0, 1e6);
  f.integer("q_lora_rank", c.q_lora_rank, 1, kBig);
  f.integer("kv_lora_rank", c.kv_lora_rank, 1, kBig);
  f.integer("qk_nope_head_dim", c.qk_nope_head_dim, 0, kBig);
  f.integer("qk_rope_head_dim", c.qk_rope_head_dim, 2, kBig);
  f.integer("v_head_dim", c.v_head_dim, 1, kBig);
  f.integer("block_size", c.block_size, 1, kBig);
  f.integer("block_stride", c.block_stride, 1, kBig);
  f.integer("compress_hidden", c.compress_hidden, 1, kBig);
  f.integer("select_block_size", c.select_block_size, 1, kBig);
  f.integer("num_tokens_to_keep", c.num_tokens_to_keep, 1, kBig);
  f.integer("select_init_blocks", c.select_init_blocks, 0, kBig);
  f.integer("select_local_blocks", c.select_local_blocks, 0, kBig);
  f.integer("window_size", c.window_size, 1, kBig);
  std::string s;
  f.choice("branch_gate", s, {"softmax", "sigmoid"});
  if (!s.empty()) c.branch_gate = s == "softmax" ? BranchGate::Softmax : BranchGate::Sigmoid;
  f.number("rope_theta", c.rope_theta, 0.0, 1e12, true);
  f.boolean("v_residual", c.v_residual);
  f.boolean("hc", c.hc);
  f.integer("hc_num_streams", c.hc_num_streams, 1, 64);
  f.integer("hc_num_fracs", c.hc_num_fracs);
  f.boolean("mhc", c.mhc);
  s.clear();
  f.choice("mhc_h_res_proj", s, {"sinkhorn", "orthostochastic"});
  if (!s.empty())
    c.mhc_h_res_proj = s == "sinkhorn" ? HResProj::Sinkhorn : HResProj::Orthostochastic;
  f.integer("sinkhorn_iters", c.sinkhorn_iters, 0, 10000);
  f.number("sinkhorn_tau", c.sinkhorn_tau, 0.0, 1e6, true);
  f.integer("ns_steps", c.ns_steps, 0, 1000);
  f.number("ns_eps", c.ns_eps, 0.0, 1.0, true);
  if (f.has("ns_coeffs")) {
    const auto& v = f.raw("ns_coeffs");
    if (!v.is_array() || v.size() != 3 || !v[0].is_number() || !v[1].is_number() ||
        !v[2].is_number())
      f.error("ns_coeffs", fmt::format("must be a list of 3 numbers, got {}", io::json_excerpt(v)));
    for (int i = 0; i < 3; ++i) c.ns_coeffs[i] = v[i].get<double>();
  }
  f.number("dropout", c.dropout, 0.0, 1.0);
  f.number("norm_eps", c.norm_eps, 0.0, 1.0, true);
  f.number("init_std", c.init_std, 0.0, 10.0);
  f.integer("mamba_expand", c.mamba_expand, 1, 1024);
  f.integer("mamba_d_state", c.mamba_d_state, 1, 1 << 16);
  f.integer("mamba_d_conv", c.mamba_d_conv, 1, 1 << 16);
  f.integer("mamba_dt_rank", c.mamba_dt_rank, 1, kBig);
  s.clear();
  f.choice("pos_embedding", s, {"learned", "rope"});
  if (!s.empty()) c.pos_embedding = s == "rope" ? PosEmbedding::Rope : PosEmbedding::Learned;
  f.number("rope_scaling", c.rope_scaling, 1.0, 1e6);
  f.ignore("train");  // the trainer's section (SPEC §6)
  f.finish();
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  auto bad = [](const std::string& key, const std::string& what) {
    fail("{}: \"{}\" {}", kContext, key, what);
  };
  if (n_embd % n_head != 0)
    bad("n_head", fmt::format("= {} must divide n_embd = {}", n_head, n_embd));
  if (router != Router::Deepseek) {  // SPEC §11: k = num_exp of E = n_experts, no shared expert
    if (num_exp > n_experts)
      bad("num_exp", fmt::format("= {} is out of range: router \"{}\" needs 1 ≤ num_exp ≤ "
                                 "n_experts = {}",
                                 num_exp, router_name(router), n_experts));
  } else if (num_exp - 1 < 1 || num_exp - 1 > n_experts - 1)
    bad("num_exp",
        fmt::format(
            "= {} is out of range: need 1 ≤ num_exp−1 ≤ n_experts−1 = {}, i.e. 2 ≤ num_exp ≤ {}",
            num_exp, n_experts - 1, n_experts));
  if (router == Router::ExpertChoice && !(capacity_factor > 0.0))
    bad("capacity_factor",
        fmt::format("= {} must be > 0 with router \"expert_choice\" (each expert takes "
                    "ceil(capacity_factor·N·k/E) tokens)",
                    capacity_factor));
  if (hc_num_fracs != 1)
    bad("hc_num_fracs", fmt::format("= {}: only 1 is supported", hc_num_fracs));
  if (qk_rope_head_dim % 2 != 0)
    bad("qk_rope_head_dim",
        fmt::format("= {} must be even (RoPE rotates pairs)", qk_rope_head_dim));
  if (block_stride > block_size)
    bad("block_stride", fmt::format("= {} must be ≤ block_size = {}", block_stride, block_size));
  if (block_size % block_stride != 0)
    bad("block_stride", fmt::format("= {} must divide block_size = {}", block_stride, block_size));
  if (select_block_size % block_stride != 0)
    bad("block_stride",
        fmt::format("= {} must divide select_block_size = {}", block_stride, select_block_size));
  if (num_tokens_to_keep % select_block_size != 0)
    bad("num_tokens_to_keep", fmt::format("= {} must be a multiple of select_block_size = {}",
                                          num_tokens_to_keep, select_block_size));
  if (select_init_blocks + select_local_blocks > num_select_blocks())
    bad("select_local_blocks",
        fmt::format("select_init_blocks + select_local_blocks = {} must be ≤ num_tokens_to_keep / "
                    "select_block_size = {}",
                    select_init_blocks + select_local_blocks, num_select_blocks()));
  if (dropout >= 1.0) bad("dropout", fmt::format("= {} must be < 1", dropout));
  // SPEC §10: RoPE on FULL/LFA heads needs an even head size; the NTK base
  // θ·s^(D/(D−2)) needs D > 2 once s > 1.
  if (pos_embedding == PosEmbedding::Rope && head_dim() % 2 != 0)
    bad("pos_embedding",
        fmt::format("= \"rope\" needs an even head size, got n_embd / n_head = {}", head_dim()));
  // SPEC §10: Retention always rotates q and k (RoPE), whatever pos_embedding says.
  if (std::find(attention_types.begin(), attention_types.end(), AttentionType::Retention) !=
          attention_types.end() &&
      head_dim() % 2 != 0)
    bad("attention_types",
        fmt::format("\"Retention\" needs an even head size (RoPE), got n_embd / n_head = {}",
                    head_dim()));
  if (rope_scaling > 1.0 && qk_rope_head_dim <= 2)
    bad("rope_scaling",
        fmt::format("= {} needs qk_rope_head_dim > 2 (NTK base θ·s^(D/(D−2)))", rope_scaling));
  if (rope_scaling > 1.0 && pos_embedding == PosEmbedding::Rope && head_dim() <= 2)
    bad("rope_scaling",
        fmt::format("= {} needs a head size > 2 (NTK base θ·s^(D/(D−2)))", rope_scaling));
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  const nlohmann::json j = io::read_json_file(path, {}, "config file");
  try {
    return from_json(j);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["vocab_size"] = vocab_size;
  j["ctx_len"] = ctx_len;
  j["n_embd"] = n_embd;
  j["n_head"] = n_head;
  j["n_layer"] = n_layer;
  auto& at = j["attention_types"] = nlohmann::json::array();
  for (auto t : attention_types) at.push_back(attention_type_name(t));
  j["attention_mode"] = attention_mode_json;
  auto& ty = j["types"] = nlohmann::json::array();
  for (auto t : types) ty.push_back(t == FfnType::Mlp ? "mlp" : t == FfnType::Moe ? "moe" : "glu");
  j["n_experts"] = n_experts;
  j["num_exp"] = num_exp;
  j["moe_hidden"] = moe_hidden_size();
  j["gate_noise"] = gate_noise;
  j["expert_bias_rate"] = expert_bias_rate;
  j["moe_balance_coef"] = moe_balance_coef;
  j["glu_hidden"] = glu_hidden_size();
  j["glu_activation"] = glu_activation_name(glu_activation);
  j["moe_expert"] = moe_expert == MoeExpert::Glu ? "glu" : "mlp";
  j["router"] = router_name(router);
  j["moe_aux_coef"] = moe_aux_coef;
  j["capacity_factor"] = capacity_factor;
  j["q_lora_rank"] = q_lora_rank;
  j["kv_lora_rank"] = kv_lora_rank;
  j["qk_nope_head_dim"] = qk_nope_head_dim;
  j["qk_rope_head_dim"] = qk_rope_head_dim;
  j["v_head_dim"] = v_head_dim;
  j["block_size"] = block_size;
  j["block_stride"] = block_stride;
  j["compress_hidden"] = compress_hidden_size();
  j["select_block_size"] = select_block_size;
  j["num_tokens_to_keep"] = num_tokens_to_keep;
  j["select_init_blocks"] = select_init_blocks;
  j["select_local_blocks"] = select_local_blocks;
  j["window_size"] = window_size;
  j["branch_gate"] = branch_gate == BranchGate::Softmax ? "softmax" : "sigmoid";
  j["rope_theta"] = rope_theta;
  j["v_residual"] = v_residual;
  j["hc"] = hc;
  j["hc_num_streams"] = hc_num_streams;
  j["hc_num_fracs"] = hc_num_fracs;
  j["mhc"] = mhc;
  j["mhc_h_res_proj"] = mhc_h_res_proj == HResProj::Sinkhorn ? "sinkhorn" : "orthostochastic";
  j["sinkhorn_iters"] = sinkhorn_iters;
  j["sinkhorn_tau"] = sinkhorn_tau;
  j["ns_steps"] = ns_steps;
  j["ns_eps"] = ns_eps;
  j["ns_coeffs"] = ns_coeffs;
  j["dropout"] = dropout;
  j["norm_eps"] = norm_eps;
  j["init_std"] = init_std;
  j["mamba_expand"] = mamba_expand;
  j["mamba_d_state"] = mamba_d_state;
  j["mamba_d_conv"] = mamba_d_conv;
  j["mamba_dt_rank"] = mamba_dt_rank_size();
  j["pos_embedding"] = pos_embedding == PosEmbedding::Rope ? "rope" : "learned";
  j["rope_scaling"] = rope_scaling;
  return j;
}

}  // namespace tinyr2::nn
