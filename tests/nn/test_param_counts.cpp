// Model::num_params() and active_params_per_token() against closed forms computed here from
// the config alone (the shapes of SPEC §2 and §3), and against the PyTorch reference's count
// of its parameters (reference/model.py, nn.Module.parameters()), for FULL-only, Sparse with
// every branch set, MoE with num_exp 2 and 3, and hyper-connections with 1 and 4 streams.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "nn/model.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

// The parity suites' small base (tests/nn/test_model_parity.cpp).
constexpr const char* kBase = tinyr2::testing::kSmallModelBase;

struct CountCase {
  std::string name;
  std::string config;  // merged over kBase
};

void PrintTo(const CountCase& c, std::ostream* os) {
  *os << c.name;
}

ModelConfig config_of(const CountCase& c) {
  nlohmann::json j = nlohmann::json::parse(kBase);
  j.update(nlohmann::json::parse(c.config));
  return ModelConfig::from_json(j);
}

// Parameters of the attention slot of layer i (SPEC §2.1, §2.3, §3).
int64_t attention_params(const ModelConfig& c, int64_t i) {
  const int64_t C = c.n_embd, H = c.n_head, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim,
                vd = c.v_head_dim;
  if (c.attention_type(i) == AttentionType::Full)
    return 3 * C * C + C * C + 2;  // c_attn, c_proj, lamb1, lamb2
  const BranchSet b = c.branches(i);
  const int64_t n_active = b[0] + b[1] + b[2];
  const int64_t ql = c.q_lora_rank, kvl = c.kv_lora_rank, l = c.block_size;
  const int64_t ch = c.compress_hidden > 0 ? c.compress_hidden : C;
  int64_t n = ql * C + H * nope * ql + H * rope * ql + ql;  // MLA query + q_norm
  if (b[0] || b[1])
    n += ch * l * C + C * ch + l * C  // block_compressor.0, .2, intra_block_pos_encoding
         + kvl * C + kvl              // compress_kv_linear, kv_norm
         + H * nope * kvl + H * vd * kvl + rope * C;  // decompress_k_nope, _v_linear, k_rope
  if (b[1]) n += H * (nope + rope) * C + H * vd * C;  // selection_k, selection_v
  if (b[2]) n += H * (nope + rope) * C + H * vd * C;  // window_k, window_v
  n += (c.branch_gate == BranchGate::Softmax ? n_active : H * n_active) * C;  // branch_gate
  n += C * H * vd;                                                            // proj
  return n;
}

// One expert (or the MLP at width `hidden`): c_fc (hidden, C) and c_proj (C, hidden).
int64_t mlp_params(int64_t C, int64_t hidden) {
  return 2 * C * hidden;
}

// Parameters of the FFN slot of layer i (SPEC §2.4); expert_bias is a buffer, not counted.
int64_t ffn_params(const ModelConfig& c, int64_t i) {
  const int64_t C = c.n_embd;
  if (c.ffn_type(i) == FfnType::Mlp) return mlp_params(C, 4 * C);
  const int64_t hidden = c.moe_hidden > 0 ? c.moe_hidden : 4 * C;
  return (c.n_experts - 1) * C + c.n_experts * mlp_params(C, hidden);  // gate + experts
}

// Parameters of one hyper-connection module (SPEC §2.5), S streams (none when S = 1).
int64_t hc_params(const ModelConfig& c) {
  const int64_t S = c.hc ? c.hc_num_streams : 1, C = c.n_embd;
  if (S == 1) return 0;
  if (c.mhc) return S * S + S + S;  // H_res_logits, H_pre_logits, H_post_logits
  return S * (S + 1) + C * (S + 1) + 1 + S + C + 1 + C;  // static/dynamic alpha, beta, gamma
}

int64_t closed_form_params(const ModelConfig& c) {
  const int64_t C = c.n_embd;
  int64_t n = c.vocab_size * C + c.ctx_len * C + C;  // embeddings, rm_f
  for (int64_t i = 0; i < c.n_layer; ++i)
    n += 2 * C + attention_params(c, i) + ffn_params(c, i) + 2 * hc_params(c);
  return n;
}

// Everything except the routed experts a token does not visit: num_exp − 1 of n_experts − 1.
int64_t closed_form_active(const ModelConfig& c) {
  int64_t n = closed_form_params(c);
  const int64_t hidden = c.moe_hidden > 0 ? c.moe_hidden : 4 * c.n_embd;
  for (int64_t i = 0; i < c.n_layer; ++i)
    if (c.ffn_type(i) == FfnType::Moe)
      n -= (c.n_experts - c.num_exp) * mlp_params(c.n_embd, hidden);
  return n;
}

// sum(p.numel() for p in Transformer(cfg).parameters()) in the PyTorch reference.
int64_t reference_params(const ModelConfig& cfg, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(TINYR2_REF_DIR) / "param_counts";
  fs::create_directories(dir);
  const fs::path cfg_file = dir / (name + ".config.json");
  std::ofstream(cfg_file) << cfg.to_json().dump();
  const std::string cmd = fmt::format(
      "cd {}/reference && {} -c \"from config import Config; from model import Transformer; "
      "m = Transformer(Config.from_file('{}')); print(sum(p.numel() for p in m.parameters()))\"",
      TINYR2_SOURCE_DIR, TINYR2_TORCH_PYTHON, cfg_file.string());
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return -1;
  long long n = -1;
  if (std::fscanf(pipe.get(), "%lld", &n) != 1) return -1;
  return n;
}

const std::vector<CountCase>& count_cases() {
  static const std::vector<CountCase> cases = {
      {"full_mlp", R"({})"},
      {"full_v_residual_3_layers", R"({"v_residual": true, "n_layer": 3})"},
      {"nsa_100", R"({"attention_types": ["Sparse"], "attention_mode": [[1,0,0]]})"},
      {"nsa_010", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,0]]})"},
      {"nsa_001", R"({"attention_types": ["Sparse"], "attention_mode": [[0,0,1]]})"},
      {"nsa_110", R"({"attention_types": ["Sparse"], "attention_mode": ["DSA"]})"},
      {"nsa_101", R"({"attention_types": ["Sparse"], "attention_mode": ["SWA"]})"},
      {"nsa_011", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,1]]})"},
      {"nsa_111", R"({"attention_types": ["Sparse"], "attention_mode": ["NSA"]})"},
      {"nsa_sigmoid_gate", R"({"attention_types": ["Sparse"], "branch_gate": "sigmoid"})"},
      {"moe_num_exp2", R"({"types": ["moe"], "n_experts": 4, "num_exp": 2})"},
      {"moe_num_exp3", R"({"types": ["moe"], "n_experts": 5, "num_exp": 3})"},
      {"hc_one_stream", R"({"hc": true, "hc_num_streams": 1})"},
      {"mhc_four_streams", R"({"hc": true, "hc_num_streams": 4})"},
      {"dynamic_hc_four_streams", R"({"hc": true, "hc_num_streams": 4, "mhc": false})"},
      {"mixed", R"({"attention_types": ["FULL", "Sparse"], "n_layer": 4,
                    "attention_mode": ["NSA", "SWA"], "types": ["moe", "mlp"], "num_exp": 3,
                    "n_experts": 5, "hc": true, "hc_num_streams": 4, "compress_hidden": 40})"},
  };
  return cases;
}

class ParamCounts : public ::testing::TestWithParam<CountCase> {};

TEST_P(ParamCounts, MatchTheClosedForm) {
  const ModelConfig cfg = config_of(GetParam());
  const Model model(cfg);
  EXPECT_EQ(model.num_params(), closed_form_params(cfg));
  EXPECT_EQ(model.active_params_per_token(), closed_form_active(cfg));
  // Each block's mixer owns exactly its attention slot's parameters.
  for (int64_t i = 0; i < cfg.n_layer; ++i)
    EXPECT_EQ(model.blocks[i]->attn->num_params(), attention_params(cfg, i)) << "layer " << i;
}

INSTANTIATE_TEST_SUITE_P(Configs, ParamCounts, ::testing::ValuesIn(count_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ParamCounts, MatchThePyTorchReference) {
  // A few cases (each runs the reference once): FULL + MoE, Sparse NSA with mHC, dynamic HC.
  for (const char* name :
       {"moe_num_exp3", "mixed", "dynamic_hc_four_streams", "nsa_sigmoid_gate"}) {
    const auto& cases = count_cases();
    const auto it = std::find_if(cases.begin(), cases.end(),
                                 [&](const CountCase& c) { return c.name == name; });
    ASSERT_NE(it, cases.end());
    const ModelConfig cfg = config_of(*it);
    EXPECT_EQ(Model(cfg).num_params(), reference_params(cfg, name)) << name;
  }
}

}  // namespace

}  // namespace tinyr2::nn
