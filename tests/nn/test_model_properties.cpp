// Properties of the model that need no oracle: causality and cached decoding = the full
// forward for every layer type (SPEC §7, §10), sparse MoE dispatch equals the
// dense computation, unchosen experts do no work, the expert bias moves toward balance,
// hyper-connection inits, save/load round trip.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "autograd/ops.h"
#include "model_checks.h"
#include "nn/model.h"
#include "support/model_inputs.h"

namespace tinyr2::nn {

namespace {

using testing::eval_logits;
using testing::random_ids;

ModelConfig small_config(const std::string& extra = "{}") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "vocab_size": 97, "ctx_len": 64, "n_embd": 32, "n_head": 4, "n_layer": 2,
    "attention_types": ["FULL"], "types": ["mlp", "moe"], "n_experts": 5, "num_exp": 3,
    "moe_hidden": 24, "hc_num_streams": 3, "q_lora_rank": 16, "kv_lora_rank": 8,
    "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8,
    "block_stride": 8, "select_block_size": 8, "num_tokens_to_keep": 24, "select_init_blocks": 1,
    "select_local_blocks": 1, "window_size": 6})");
  j.update(nlohmann::json::parse(extra));
  return ModelConfig::from_json(j);
}

}  // namespace

class ModelCausality : public ::testing::TestWithParam<std::string> {};

// Causality, and cached decoding (one token at a time) = the full forward at every position
// (tests/nn/model_checks.h). A case with ctx_len ≥ 128 runs 90 positions, past the first
// 64-position chunk of the SPEC §10 kernels, and changes the tokens from 65 on as well.
TEST_P(ModelCausality, LaterTokensDoNotChangeEarlierLogitsAndCachedDecodingMatches) {
  Model m(small_config(GetParam()));
  m.init(7);
  if (m.cfg.ctx_len >= 128)
    expect_causal_and_cached(m, 90, {1, 17, 65, 89});
  else
    expect_causal_and_cached(m, 40, {1, 17, 39});
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ModelCausality,
    ::testing::Values(R"({})", R"({"hc": false})", R"({"mhc": false})",
                      R"({"mhc_h_res_proj": "orthostochastic"})",
                      R"({"v_residual": true, "n_layer": 3})", R"({"num_exp": 2})",
                      // Sparse layers: every branch set, both gates,
                      // overlapping blocks, l′ ≠ l.
                      R"({"attention_types": ["Sparse"], "attention_mode": [[1,0,0]]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,0]]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": [[0,0,1]]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": ["DSA"]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": ["SWA"]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,1]]})",
                      R"({"attention_types": ["Sparse"], "attention_mode": ["NSA"]})",
                      R"({"attention_types": ["Sparse"], "branch_gate": "sigmoid"})",
                      R"({"attention_types": ["FULL", "Sparse"], "block_stride": 4})",
                      R"({"attention_types": ["Sparse"], "select_block_size": 16,
                                               "num_tokens_to_keep": 32, "block_stride": 4})",
                      // SPEC §10: every type alone (past a chunk of 64) and in hybrid stacks
                      R"({"attention_types": ["Retention"], "ctx_len": 128})",
                      R"({"attention_types": ["Mamba"], "ctx_len": 128})",
                      R"({"attention_types": ["Mamba", "FULL"], "mamba_d_conv": 2})",
                      R"({"attention_types": ["Linear"], "ctx_len": 128})",
                      R"({"attention_types": ["Linear", "FULL"], "ctx_len": 128})",
                      R"({"attention_types": ["LFA"]})",
                      R"({"attention_types": ["LFA", "Linear"], "pos_embedding": "rope"})",
                      R"({"attention_types": ["LFA", "Retention"], "pos_embedding": "rope",
                          "rope_scaling": 2.0, "hc": false})"));

TEST(DSMoE, SparseDispatchEqualsDenseAndSkipsUnchosenExperts) {
  ModelConfig cfg = small_config(R"({"n_experts": 6, "num_exp": 3})");
  Parameters params;
  DSMoE moe(params, "ffn.", cfg);
  params.init_all(3);
  // Push the routing toward experts 0 and 1 (routed indices) so the others see no tokens.
  float* b = moe.expert_bias.data();
  b[0] = 5.f, b[1] = 5.f;
  Tensor x = Tensor::empty({2, 9, cfg.n_embd});
  Rng(4).normal(x.data(), x.numel());
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  const Tensor y = moe.forward(ctx, x);
  const auto& rows = moe.rows_computed();
  EXPECT_EQ(rows[0], 18);  // the shared expert sees every token
  EXPECT_EQ(rows[1], 18);
  EXPECT_EQ(rows[2], 18);
  EXPECT_EQ(rows[3] + rows[4] + rows[5], 0) << "unchosen experts must do no work";

  // Dense reference: every expert on every token, weighted by the router weights.
  const int64_t N = 18, C = cfg.n_embd, R = 5, k = 3;
  const Tensor xf = x.view({N, C});
  const Tensor p = ops::softmax(tape, ops::linear(tape, xf, moe.gate));
  std::vector<float> dense(static_cast<size_t>(N * C), 0.f);
  for (int64_t e = 0; e < 6; ++e) {
    const Tensor h = moe.experts[e].forward(ctx, xf);
    for (int64_t n = 0; n < N; ++n) {
      float wgt;
      if (e == 0) {
        wgt = 1.f / k;
      } else if (e <= 2) {
        const float p0 = p.data()[n * R + 0], p1 = p.data()[n * R + 1];
        wgt = float(k - 1) / k * p.data()[n * R + (e - 1)] / (p0 + p1);
      } else {
        wgt = 0.f;
      }
      for (int64_t c = 0; c < C; ++c) dense[n * C + c] += wgt * h.data()[n * C + c];
    }
  }
  for (int64_t i = 0; i < N * C; ++i) EXPECT_NEAR(y.data()[i], dense[i], 1e-5) << i;
}

TEST(DSMoE, BiasUpdateMovesTowardBalance) {
  // A skewed toy router: the gate strongly prefers expert 0. Repeated bias updates from the
  // routed counts must shrink the max-load violation max_i(c_i)/mean(c) − 1.
  ModelConfig cfg = small_config(R"({"n_experts": 5, "num_exp": 2, "expert_bias_rate": 0.01})");
  Parameters params;
  DSMoE moe(params, "ffn.", cfg);
  params.init_all(5);
  for (int64_t c = 0; c < cfg.n_embd; ++c) moe.gate.data()[c] += 0.2f;  // routed expert 0
  Tensor x = Tensor::empty({1, 256, cfg.n_embd});
  Rng(6).normal(x.data(), x.numel(), 0.5f, 1.f);  // mean > 0 → expert 0 favoured
  auto violation = [&]() {
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    ctx.training = true;
    ctx.gate_noise = false;
    moe.reset_counts();
    moe.forward(ctx, x);
    const auto c = moe.routed_counts();
    double mean = 0, mx = 0;
    for (auto v : c) mean += double(v), mx = std::max(mx, double(v));
    mean /= double(c.size());
    return std::pair{mx / mean - 1.0, c};
  };
  const double start = violation().first;
  EXPECT_GT(start, 1.0) << "the toy router should start skewed";
  // Sign updates end in a small limit cycle, so judge the mean over the last 50 steps.
  double late = 0;
  for (int step = 0; step < 300; ++step) {
    auto [viol, counts] = violation();
    if (step >= 250) late += viol / 50;
    moe.update_bias(counts);
  }
  EXPECT_LT(late, 0.5 * start) << "start " << start << ", mean of the last 50 steps " << late;
}

TEST(HyperConnection, InitialisationIsThePlainResidualPath) {
  // At init H_res = I and H_pre selects stream r: each HC step reads stream r.
  ModelConfig cfg = small_config();
  Parameters params;
  HyperConnection hc(params, "hc.", cfg, 4);  // r = 4 mod 3 = 1
  params.init_all(1);
  Tensor R = Tensor::empty({5, 3, cfg.n_embd});
  Rng(2).normal(R.data(), R.numel());
  Tape tape;
  ForwardContext ctx(tape);
  Tensor seen;
  const Tensor out = hc.forward(ctx, R, {1, 5, cfg.n_embd}, [&](const Tensor& u) {
    seen = u;
    return Tensor::zeros(u.shape());
  });
  // H_pre = softmax([−8, 0, −8]): almost all weight on stream r = 1.
  const double w_r = 1.0 / (1.0 + 2.0 * std::exp(-8.0)), w_o = std::exp(-8.0) * w_r;
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t c = 0; c < cfg.n_embd; ++c) {
      const auto at = [&](int64_t s) { return double(R.data()[(n * 3 + s) * cfg.n_embd + c]); };
      EXPECT_NEAR(seen.data()[n * cfg.n_embd + c], w_r * at(1) + w_o * (at(0) + at(2)), 1e-6);
    }
  // With a zero branch, R' = H_res R = R.
  for (int64_t i = 0; i < R.numel(); ++i) EXPECT_NEAR(out.data()[i], R.data()[i], 1e-5);
}

TEST(Model, SaveLoadRoundTripReproducesLogits) {
  Model m(small_config(R"({"mhc": false})"));
  m.init(11);
  const auto dir =
      std::filesystem::temp_directory_path() / ("tinyr2_model_rt_" + std::to_string(::getpid()));
  m.save(dir.string());
  auto back = Model::load(dir.string());
  const IndexTensor ids = random_ids(2, 13, m.cfg.vocab_size, 3);
  EXPECT_EQ(eval_logits(m, ids).to_vector(), eval_logits(*back, ids).to_vector());
  std::filesystem::remove_all(dir);
}

}  // namespace tinyr2::nn
