// The model against the PyTorch reference (reference/cli.py, float64): logits, loss and
// every parameter's gradient, on FULL/MLP/MoE/hyper-connection (SPEC §2.1–2.5) and Sparse
// (§2.3) configurations. Weights cross safetensors in both directions: even cases are
// initialised by C++ and read by PyTorch, odd cases the other way round.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/core.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "support/op_case.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

namespace fs = std::filesystem;

struct ParityCase {
  std::string name;
  std::string config;  // JSON merged over the small base below
  int64_t B = 2, T = 40;
};

constexpr const char* kBase = tinyr2::testing::kSmallModelBase;

void PrintTo(const ParityCase& c, std::ostream* os) {
  *os << c.name;
}

fs::path work_dir() {
  fs::path d = fs::path(TINYR2_REF_DIR) / "model_parity";
  fs::create_directories(d);
  return d;
}

void run_reference(const std::string& args) {
  const std::string cmd =
      fmt::format("{} {}/reference/cli.py {}", TINYR2_TORCH_PYTHON, TINYR2_SOURCE_DIR, args);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// max|a−e| / max|e| over the tensor (max-norm relative error).
double rel(const Tensor& a, const Tensor& e) {
  return testing::relative_error(a, e);
}

void check_parity(const ParityCase& pc, int index) {
  const fs::path dir = work_dir() / pc.name;
  fs::remove_all(dir);
  nlohmann::json cfg_json = nlohmann::json::parse(kBase);
  cfg_json.update(nlohmann::json::parse(pc.config));
  const ModelConfig cfg = ModelConfig::from_json(cfg_json);
  if (index % 2 == 0) {
    Model m(cfg);
    m.init(100 + index);
    m.save(dir.string());
  } else {
    const fs::path cfg_file = work_dir() / (pc.name + ".config.json");
    std::ofstream(cfg_file) << cfg_json.dump();
    run_reference(fmt::format("init --config {} --out {} -s {}", cfg_file.string(), dir.string(),
                              100 + index));
  }
  auto model = Model::load(dir.string());

  // Tokens: (B, T+1); inputs are the first T, targets the last T.
  Rng rng(7 + index);
  std::vector<int64_t> all(static_cast<size_t>(pc.B * (pc.T + 1)));
  for (auto& v : all)
    v = static_cast<int64_t>(rng.next_below(static_cast<uint64_t>(cfg.vocab_size)));
  std::vector<int32_t> in, tg;
  std::vector<int64_t> in64;
  for (int64_t b = 0; b < pc.B; ++b)
    for (int64_t t = 0; t < pc.T; ++t) {
      in.push_back(static_cast<int32_t>(all[b * (pc.T + 1) + t]));
      tg.push_back(static_cast<int32_t>(all[b * (pc.T + 1) + t + 1]));
      in64.push_back(all[b * (pc.T + 1) + t]);
    }
  const fs::path ids_file = dir / "ids.safetensors", in_file = dir / "inputs.safetensors";
  io::save_safetensors(ids_file.string(), {}, {}, io::FloatFormat::F32,
                       {{"ids", {{pc.B, pc.T + 1}, all}}});
  io::save_safetensors(in_file.string(), {}, {}, io::FloatFormat::F32,
                       {{"ids", {{pc.B, pc.T}, in64}}});
  run_reference(fmt::format("logits -m {} --ids-file {} --out {}", dir.string(), in_file.string(),
                            (dir / "ref_logits.safetensors").string()));
  run_reference(fmt::format("grads -m {} --ids-file {} --out {}", dir.string(), ids_file.string(),
                            (dir / "ref_grads.safetensors").string()));
  io::SafetensorsData ref_logits = io::load_safetensors((dir / "ref_logits.safetensors").string());
  io::SafetensorsData ref = io::load_safetensors((dir / "ref_grads.safetensors").string());

  const IndexTensor ids({pc.B, pc.T}, in), targets({pc.B, pc.T}, tg);
  {  // eval logits
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    const Tensor logits = model->forward(ctx, ids).logits;
    const Tensor expected = ref_logits.tensors.at("logits").view(logits.shape());
    EXPECT_LE(rel(logits, expected), 1e-4) << pc.name << ": logits";
  }
  // training forward (gate noise off, dropout 0) and backward
  Tape tape;
  ForwardContext ctx(tape);
  ctx.training = true;
  ctx.gate_noise = false;
  const ModelOutput out = model->forward(ctx, ids, &targets);
  EXPECT_NEAR(out.ce.item(), ref.tensors.at("ce").item(),
              1e-4 * std::abs(ref.tensors.at("ce").item()))
      << pc.name;
  EXPECT_NEAR(out.bal.item(), ref.tensors.at("bal").item(),
              1e-4 * std::abs(ref.tensors.at("bal").item()) + 1e-7)
      << pc.name;
  EXPECT_NEAR(out.loss.item(), ref.tensors.at("loss").item(),
              1e-4 * std::abs(ref.tensors.at("loss").item()))
      << pc.name;
  tape.backward(out.loss);
  int checked = 0;
  for (const auto& e : model->params.all()) {
    if (e.buffer) continue;
    const auto it = ref.tensors.find("grad." + e.name);
    ASSERT_NE(it, ref.tensors.end()) << pc.name << ": the reference has no gradient for " << e.name;
    const Tensor& expected = it->second;
    const Tensor got =
        e.tensor.grad().defined() ? e.tensor.grad() : Tensor::zeros(e.tensor.shape());
    double emax = 0;
    for (int64_t i = 0; i < expected.numel(); ++i)
      emax = std::max(emax, std::abs(double(expected.data()[i])));
    if (emax < 1e-9) {
      double gmax = 0;
      for (int64_t i = 0; i < got.numel(); ++i)
        gmax = std::max(gmax, std::abs(double(got.data()[i])));
      EXPECT_LE(gmax, 1e-7) << pc.name << ": gradient of " << e.name << " should be zero";
    } else {
      EXPECT_LE(rel(got, expected), 1e-3) << pc.name << ": gradient of " << e.name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(model->params.trainable().size()));
}

}  // namespace

class ModelParity : public ::testing::TestWithParam<std::pair<int, ParityCase>> {};

TEST_P(ModelParity, LogitsLossAndEveryGradientMatchPyTorch) {
  check_parity(GetParam().second, GetParam().first);
}

// SPEC §2.1, 2.4, 2.5: FULL attention, MLP, DSMoE, hyper-connections.
static const std::vector<ParityCase> kCoreCases = {
    {"full_mlp", R"({})"},
    {"full_v_residual", R"({"v_residual": true, "n_layer": 3})"},
    {"moe_num_exp2", R"({"types": ["moe"], "n_experts": 4, "num_exp": 2})"},
    {"moe_num_exp3", R"({"types": ["moe"], "n_experts": 5, "num_exp": 3})"},
    {"mhc_sinkhorn", R"({"types": ["mlp", "moe"], "hc": true})"},
    {"mhc_orthostochastic", R"({"hc": true, "mhc_h_res_proj": "orthostochastic"})"},
    {"dynamic_hc", R"({"types": ["moe", "mlp"], "hc": true, "mhc": false})"},
    {"hc_one_stream", R"({"hc": true, "hc_num_streams": 1})"},
    {"everything_full", R"({"v_residual": true, "n_layer": 3, "types": ["moe"], "n_experts": 5,
                            "num_exp": 3, "hc": true, "mhc": true})"},
};

std::vector<std::pair<int, ParityCase>> numbered(const std::vector<ParityCase>& v, int first) {
  std::vector<std::pair<int, ParityCase>> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back({first + static_cast<int>(i), v[i]});
  return out;
}

std::string case_name(const ::testing::TestParamInfo<std::pair<int, ParityCase>>& info) {
  return info.param.second.name;
}

INSTANTIATE_TEST_SUITE_P(Core, ModelParity, ::testing::ValuesIn(numbered(kCoreCases, 0)),
                         case_name);

// SPEC §2.3: the Sparse layer (MLA + NSA). T = 61 is a multiple of no block size; with
// l′ = 8 and n = 3 selected blocks, queries past t = 24 really choose among candidates.
static const std::vector<ParityCase> kSparseCases = {
    {"nsa_100", R"({"attention_types": ["Sparse"], "attention_mode": [[1,0,0]]})", 2, 61},
    {"nsa_010", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,0]]})", 2, 61},
    {"nsa_001", R"({"attention_types": ["Sparse"], "attention_mode": [[0,0,1]]})", 2, 61},
    {"nsa_110_dsa", R"({"attention_types": ["Sparse"], "attention_mode": ["DSA"]})", 2, 61},
    {"nsa_101_swa", R"({"attention_types": ["Sparse"], "attention_mode": ["SWA"]})", 2, 61},
    {"nsa_011", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,1]]})", 2, 61},
    {"nsa_111", R"({"attention_types": ["Sparse"], "attention_mode": ["NSA"]})", 2, 61},
    {"nsa_sigmoid_gate", R"({"attention_types": ["Sparse"], "branch_gate": "sigmoid"})", 2, 61},
    {"nsa_overlapping_blocks",
     R"({"attention_types": ["Sparse"], "block_size": 8, "block_stride": 4})", 2, 61},
    {"nsa_select_block_16", R"({"attention_types": ["Sparse"], "select_block_size": 16,
                                "num_tokens_to_keep": 48, "block_stride": 4})",
     2, 70},
    {"nsa_short_sequence", R"({"attention_types": ["Sparse"], "block_size": 16, "block_stride": 8,
                               "select_block_size": 16, "num_tokens_to_keep": 32})",
     2, 11},
    {"mixed_full_sparse_moe_mhc", R"({"attention_types": ["FULL", "Sparse"], "n_layer": 4,
                                      "attention_mode": ["NSA", "SWA"], "types": ["moe", "mlp"],
                                      "num_exp": 3, "n_experts": 5, "hc": true, "v_residual": true,
                                      "branch_gate": "sigmoid"})",
     2, 45},
};

INSTANTIATE_TEST_SUITE_P(Sparse, ModelParity, ::testing::ValuesIn(numbered(kSparseCases, 100)),
                         case_name);

// SPEC §10: Retention and Mamba. T = 100 spans two 64-position chunks and is a multiple of
// neither; T = 1; hybrid stacks with MoE and mHC.
static const std::vector<ParityCase> kSsmCases = {
    {"retention", R"({"attention_types": ["Retention"]})", 2, 100},
    {"retention_t1", R"({"attention_types": ["Retention"]})", 2, 1},
    {"retention_ntk", R"({"attention_types": ["Retention"], "rope_scaling": 2.0})", 2, 40},
    {"retention_sparse_moe_mhc", R"({"attention_types": ["Retention", "Sparse"], "n_layer": 2,
                                     "types": ["moe"], "num_exp": 3, "n_experts": 5,
                                     "hc": true})",
     2, 70},
    {"mamba", R"({"attention_types": ["Mamba"], "mamba_d_state": 6, "mamba_d_conv": 3})", 2, 100},
    {"mamba_t1", R"({"attention_types": ["Mamba"]})", 2, 1},
    {"mamba_k1_rank3", R"({"attention_types": ["Mamba"], "n_layer": 1, "mamba_d_conv": 1,
                           "mamba_dt_rank": 3, "mamba_expand": 3})",
     1, 70},
    {"mamba_mamba_full_moe_mhc", R"({"attention_types": ["Mamba", "Mamba", "FULL"], "n_layer": 3,
                                     "types": ["moe"], "num_exp": 3, "n_experts": 5,
                                     "hc": true, "v_residual": true})",
     2, 70},
};

INSTANTIATE_TEST_SUITE_P(Ssm, ModelParity, ::testing::ValuesIn(numbered(kSsmCases, 500)),
                         case_name);

// SPEC §10: RoPE positions (no position table) and the NTK base on every RoPE, Sparse's too.
static const std::vector<ParityCase> kRopeCases = {
    {"full_rope", R"({"pos_embedding": "rope"})"},
    {"full_sparse_rope_ntk", R"({"attention_types": ["FULL", "Sparse"], "pos_embedding": "rope",
                                 "rope_scaling": 2.5, "v_residual": true, "n_layer": 3})",
     2, 45},
    {"sparse_learned_ntk", R"({"attention_types": ["Sparse"], "rope_scaling": 4})", 2, 30},
};

INSTANTIATE_TEST_SUITE_P(Rope, ModelParity, ::testing::ValuesIn(numbered(kRopeCases, 200)),
                         case_name);

// SPEC §10 "Linear" (chunks of 64: T = 100 spans a ragged second chunk; T = 1), hybrids with
// Sparse and FULL, MoE and mHC / dynamic HC.
static const std::vector<ParityCase> kLinearCases = {
    {"linear_mlp", R"({"attention_types": ["Linear"]})", 2, 100},
    {"linear_t1", R"({"attention_types": ["Linear"]})", 2, 1},
    {"linear_sparse_moe_mhc", R"({"attention_types": ["Linear", "Sparse"], "types": ["moe"],
                                  "hc": true, "mhc": true, "num_exp": 3, "n_experts": 4})",
     2, 70},
    {"linear_full_rope_dynamic_hc", R"({"attention_types": ["FULL", "Linear"], "n_layer": 3,
                                        "pos_embedding": "rope", "types": ["mlp", "moe"],
                                        "hc": true, "mhc": false, "v_residual": true})",
     1, 66},
};

INSTANTIATE_TEST_SUITE_P(Linear, ModelParity, ::testing::ValuesIn(numbered(kLinearCases, 300)),
                         case_name);

// SPEC §10 "LFA": learned and RoPE positions, T = 1, a hybrid with Sparse, MoE and mHC.
static const std::vector<ParityCase> kLfaCases = {
    {"lfa_mlp", R"({"attention_types": ["LFA"]})", 2, 37},
    {"lfa_t1", R"({"attention_types": ["LFA"]})", 2, 1},
    {"lfa_rope_ntk", R"({"attention_types": ["LFA"], "pos_embedding": "rope",
                         "rope_scaling": 2.0})",
     2, 40},
    {"lfa_sparse_moe_mhc", R"({"attention_types": ["LFA", "Sparse"], "types": ["moe"],
                               "hc": true, "mhc": true, "num_exp": 3, "n_experts": 4})",
     2, 45},
};

INSTANTIATE_TEST_SUITE_P(Lfa, ModelParity, ::testing::ValuesIn(numbered(kLfaCases, 400)),
                         case_name);

// SPEC §11: GLU FFNs (every activation), GLU experts, and the routers — topk (k = 1, 2),
// attention, expert choice (training: experts choose; the eval logits route token-choice),
// capacities that drop assignments (position-major), DeepSeek with a capacity. The
// activations share their models with the routers to keep the suite short.
static const std::vector<ParityCase> kFfnRouterCases = {
    {"glu_silu", R"({"types": ["glu"], "glu_hidden": 40})"},
    {"glu_gelu_deepseek_glu_experts", R"({"types": ["glu", "moe"], "n_experts": 5, "num_exp": 3,
                                          "moe_expert": "glu", "glu_activation": "gelu"})"},
    {"glu_relu_topk_k1", R"({"types": ["moe", "glu"], "router": "topk", "n_experts": 4,
                             "num_exp": 1, "glu_activation": "relu", "glu_hidden": 40})"},
    {"glu_sigmoid_topk_k2_capacity", R"({"types": ["moe", "glu"], "router": "topk",
                                         "n_experts": 4, "num_exp": 2, "moe_expert": "glu",
                                         "glu_activation": "sigmoid", "capacity_factor": 0.5,
                                         "moe_aux_coef": 0.5})"},
    {"glu_bilinear_attention_k2", R"({"types": ["glu", "moe"], "router": "attention",
                                      "n_experts": 4, "num_exp": 2, "moe_aux_coef": 0.3,
                                      "glu_activation": "bilinear"})"},
    {"attention_capacity_glu", R"({"types": ["moe"], "router": "attention", "n_experts": 4,
                                   "num_exp": 1, "capacity_factor": 0.75, "moe_expert": "glu"})"},
    {"expert_choice", R"({"types": ["moe"], "router": "expert_choice", "n_experts": 4,
                          "num_exp": 2, "capacity_factor": 1.0})"},
    {"expert_choice_glu", R"({"types": ["moe", "glu"], "router": "expert_choice", "n_experts": 4,
                              "num_exp": 1, "capacity_factor": 0.5, "moe_expert": "glu",
                              "glu_activation": "bilinear"})"},
    {"deepseek_capacity", R"({"types": ["moe"], "n_experts": 5, "num_exp": 3,
                              "capacity_factor": 0.5})"},
};

INSTANTIATE_TEST_SUITE_P(FfnRouters, ModelParity,
                         ::testing::ValuesIn(numbered(kFfnRouterCases, 700)), case_name);

}  // namespace tinyr2::nn
