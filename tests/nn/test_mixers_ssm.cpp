// The Retention and Mamba layers (SPEC §10) beyond the shared suites (parity with the
// reference in test_model_parity.cpp, causality in test_model_properties.cpp, cached decode
// in test_sequence_mixer.cpp):
//   - the chunked retention op against its O(T²) definition in double, across chunk
//     boundaries, and a state carried over a split sequence equals one pass;
//   - the selective scan with a carried state equals one pass (decode continuity);
//   - the scan's and the conv's outputs and gradients are bit-identical at 1, 2 and 3 threads;
//   - parameter counts in closed form;
//   - bad input: mamba_d_conv < 1, an odd head size for Retention's RoPE, a checkpoint whose
//     tensors belong to another layer type.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/model.h"
#include "support/error_of.h"
#include "support/op_case.h"
#include "support/random_tensor.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

using testing::error_of;
using testing::random_tensor;
using testing::small_model_config;

// Rows [t0, t1) of x (B,T,...) as a new tensor (B, t1−t0, ...).
Tensor time_slice(const Tensor& x, int64_t t0, int64_t t1) {
  Tape tape;
  NoGradGuard ng(tape);
  return ops::slice(tape, x, 1, t0, t1);
}

}  // namespace

TEST(RetentionOp, ChunkedEqualsTheDefinitionInDouble) {
  const int64_t B = 2, T = 150, H = 3, D = 6;  // 150: two full chunks of 64 and a part
  const Tensor q = random_tensor({B, T, H, D}, 1), k = random_tensor({B, T, H, D}, 2),
               v = random_tensor({B, T, H, D}, 3);
  const float scale = 0.4f;
  Tape tape;
  const Tensor o = ops::retention(tape, q, k, v, scale);
  Tensor expected = Tensor::empty({B, T, H, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const double gamma = 1.0 - std::pow(2.0, -5.0 - static_cast<double>(h));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t e = 0; e < D; ++e) {
          double acc = 0;
          for (int64_t u = 0; u <= t; ++u) {
            double qk = 0;
            for (int64_t a = 0; a < D; ++a)
              qk += double(q.data()[((b * T + t) * H + h) * D + a]) *
                    k.data()[((b * T + u) * H + h) * D + a];
            acc += std::pow(gamma, double(t - u)) * qk * scale *
                   v.data()[((b * T + u) * H + h) * D + e];
          }
          expected.data()[((b * T + t) * H + h) * D + e] = static_cast<float>(acc);
        }
    }
  EXPECT_LE(testing::relative_error(o, expected), 2e-5);

  // The decode state: the same sequence in pieces (70, 1, 79) through one state.
  Tensor S = Tensor::zeros({B, H, D, D});
  Tensor pieces = Tensor::empty({B, T, H, D});
  int64_t t0 = 0;
  for (int64_t n : {70, 1, 79}) {
    NoGradGuard ng(tape);
    const Tensor part = ops::retention(tape, time_slice(q, t0, t0 + n), time_slice(k, t0, t0 + n),
                                       time_slice(v, t0, t0 + n), scale, S);
    for (int64_t b = 0; b < B; ++b)
      std::copy_n(part.data() + b * n * H * D, n * H * D, pieces.data() + (b * T + t0) * H * D);
    t0 += n;
  }
  EXPECT_LE(testing::relative_error(pieces, o), 1e-5);
}

TEST(SelectiveScanOp, AStateCarriedOverPiecesEqualsOnePass) {
  const int64_t B = 2, T = 140, d = 70, N = 5;  // d: one full block of 64 channels and a part
  const Tensor u = random_tensor({B, T, d}, 1), dt = random_tensor({B, T, d}, 2),
               bias = random_tensor({d}, 3, 0.5f);
  const Tensor A_log = random_tensor({d, N}, 4, 0.5f), Bm = random_tensor({B, T, N}, 5),
               Cm = random_tensor({B, T, N}, 6);
  const Tensor D = random_tensor({d}, 7);
  Tape tape;
  NoGradGuard ng(tape);
  const Tensor y = ops::selective_scan(tape, u, dt, bias, A_log, Bm, Cm, D);
  Tensor h = Tensor::zeros({B, d, N}), pieces = Tensor::empty({B, T, d});
  int64_t t0 = 0;
  for (int64_t n : {65, 1, 74}) {
    auto s = [&](const Tensor& x) { return time_slice(x, t0, t0 + n); };
    const Tensor part = ops::selective_scan(tape, s(u), s(dt), bias, A_log, s(Bm), s(Cm), D, h);
    for (int64_t b = 0; b < B; ++b)
      std::copy_n(part.data() + b * n * d, n * d, pieces.data() + (b * T + t0) * d);
    t0 += n;
  }
  EXPECT_LE(testing::relative_error(pieces, y), 1e-5);
  // y_0 = (Δ_0 u_0 Bm_0)·Cm_0 + D u_0 from h_{−1} = 0 (b = 0, c = 3).
  const int64_t c = 3;
  const double delta = std::log1p(std::exp(double(dt.data()[c]) + bias.data()[c]));
  double y0 = double(D.data()[c]) * u.data()[c];
  for (int64_t n = 0; n < N; ++n) y0 += delta * u.data()[c] * Bm.data()[n] * Cm.data()[n];
  EXPECT_NEAR(y.data()[c], y0, 1e-5 * (1 + std::abs(y0)));
}

// Training must be bit-exact for a given thread count and the kernels promise more: each
// (batch, channel block) item and each block's partial sums of dBm, dCm are computed the same
// way whichever thread runs them. Above the parallel thresholds, with a partial channel block
// (d = 200: three blocks of 64 and one of 8), B = 2 and T across three checkpoint chunks.
TEST(SelectiveScanOp, OutputsAndGradientsAreBitIdenticalAcrossThreadCounts) {
  const int64_t B = 2, T = 150, d = 200, N = 5, K = 4;
  auto run = [&](int nt) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor x = random_tensor({B, T, d}, 1), w = random_tensor({d, 1, K}, 2, 0.5f),
           wb = random_tensor({d}, 3);
    Tensor dt = random_tensor({B, T, d}, 4), bias = random_tensor({d}, 5, 0.5f),
           A_log = random_tensor({d, N}, 6, 0.5f);
    Tensor Bm = random_tensor({B, T, N}, 7), Cm = random_tensor({B, T, N}, 8),
           D = random_tensor({d}, 9);
    const std::vector<Tensor*> leaves = {&x, &w, &wb, &dt, &bias, &A_log, &Bm, &Cm, &D};
    for (Tensor* l : leaves) l->set_requires_grad(true);
    Tape tape;
    const Tensor u = ops::silu(tape, ops::depthwise_conv1d(tape, x, w, wb));
    const Tensor y = ops::selective_scan(tape, u, dt, bias, A_log, Bm, Cm, D);
    tape.backward(y, random_tensor(y.shape(), 10));
    std::vector<std::vector<float>> out = {y.to_vector()};
    for (Tensor* l : leaves) out.push_back(l->grad().to_vector());
    return out;
  };
  const auto want = run(1);
  EXPECT_EQ(run(2), want);
  EXPECT_EQ(run(3), want);
}

TEST(SsmLayers, ParameterCountsInClosedForm) {
  const ModelConfig r = small_model_config(R"({"attention_types": ["Retention"], "n_layer": 1})");
  const ModelConfig f = small_model_config(R"({"attention_types": ["FULL"], "n_layer": 1})");
  const int64_t C = 32;
  // Retention: c_attn 3C², g_proj C², head_norm C, c_proj C²; FULL: 4C² + lamb1, lamb2.
  EXPECT_EQ(Model(r).params.count() - Model(f).params.count(), (5 * C * C + C) - (4 * C * C + 2));
  const ModelConfig m =
      small_model_config(R"({"attention_types": ["Mamba"], "n_layer": 1, "mamba_expand": 3,
                                  "mamba_d_state": 7, "mamba_d_conv": 5, "mamba_dt_rank": 4})");
  const int64_t d = 3 * C, N = 7, K = 5, R = 4;
  const int64_t mamba = 2 * d * C + d * K + d + (R + 2 * N) * d + d * R + d + d * N + d + C * d;
  EXPECT_EQ(Model(m).params.count() - Model(f).params.count(), mamba - (4 * C * C + 2));
  // mamba_dt_rank defaults to ceil(C/16).
  EXPECT_EQ(small_model_config(R"({"n_embd": 40, "n_head": 2})").mamba_dt_rank_size(), 3);
}

TEST(SsmLayers, MambaInitFollowsTheSpec) {
  Model m(small_model_config(R"({"attention_types": ["Mamba"], "n_layer": 1})"));
  m.init(3);
  const int64_t d = 64, N = 16, K = 4, R = 2;
  auto t = [&](const std::string& n) { return m.params.find("blocks.0.attn." + n)->tensor; };
  for (int64_t c = 0; c < d; ++c) {
    EXPECT_FLOAT_EQ(t("D").data()[c], 1.f);
    for (int64_t n = 0; n < N; ++n)
      EXPECT_FLOAT_EQ(t("A_log").data()[c * N + n], std::log(float(n + 1)));
    // softplus(bias) = dt ∈ [1e-3, 0.1]
    const double dt = std::log1p(std::exp(double(t("dt_proj.bias").data()[c])));
    EXPECT_GE(dt, 1e-3 * 0.999);
    EXPECT_LE(dt, 0.1 * 1.001);
    EXPECT_LE(std::abs(t("conv1d.bias").data()[c]), 1.f / std::sqrt(float(K)));
    for (int64_t j = 0; j < R; ++j)
      EXPECT_LE(std::abs(t("dt_proj.weight").data()[c * R + j]), 1.f / std::sqrt(float(R)));
  }
}

TEST(SsmLayers, BadInputIsOneClearError) {
  const std::string conv = error_of([] { small_model_config(R"({"mamba_d_conv": 0})"); });
  EXPECT_NE(conv.find("mamba_d_conv"), std::string::npos) << conv;
  const std::string odd = error_of([] {
    Model m(small_model_config(R"({"attention_types": ["Retention"], "n_embd": 30, "n_head": 2})"));
  });
  EXPECT_NE(odd.find("even"), std::string::npos) << odd;

  // A FULL checkpoint read with a Mamba config: the error names a tensor.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "tinyr2_ssm_wrong_layer";
  fs::remove_all(dir);
  Model full(small_model_config(R"({"attention_types": ["FULL"]})"));
  full.init(1);
  full.save(dir.string());
  nlohmann::json cfg = full.cfg.to_json();
  cfg["attention_types"] = {"Mamba"};
  std::ofstream(dir / "config.json") << cfg.dump();
  const std::string wrong = error_of([&] { Model::load(dir.string()); });
  EXPECT_NE(wrong.find("tensor \"blocks.0.attn."), std::string::npos) << wrong;
  fs::remove_all(dir);
}

TEST(SsmLayers, TheShippedConfigsAreDefaultWithTheAttentionSlotSwapped) {
  const ModelConfig def =
      ModelConfig::from_file(std::string(TINYR2_SOURCE_DIR) + "/configs/default.json");
  const std::vector<std::pair<std::string, std::vector<AttentionType>>> cases = {
      {"retention", {AttentionType::Retention}},
      {"mamba", {AttentionType::Mamba}},
      {"jamba",
       {AttentionType::Mamba, AttentionType::Mamba, AttentionType::Mamba, AttentionType::Full}},
      {"linear", {AttentionType::Linear}},
      {"lfa", {AttentionType::Lfa}}};
  for (const auto& [name, types] : cases) {
    ModelConfig c =
        ModelConfig::from_file(std::string(TINYR2_SOURCE_DIR) + "/configs/" + name + ".json");
    EXPECT_EQ(c.attention_types, types) << name;
    c.attention_types = def.attention_types;
    EXPECT_EQ(c.to_json(), def.to_json()) << name;
  }
}

}  // namespace tinyr2::nn
