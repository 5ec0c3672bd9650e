// Batched decoding (SPEC §14 continuous batching) equals decoding alone: B sequences at
// different positions, each prefilled on its own cache, decoded together by
// Model::forward_batch give per row the logits of Model::forward_cached of that row alone on
// a copy of the same sequence (max-norm relative error ≤ 1e-5) — while sequences join and
// leave the batch between steps, across compression-block boundaries and window wrap-around,
// for FULL and Sparse configurations (with v-residual, DSMoE and hyper-connections).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../infer/model_configs.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/model_cache.h"
#include "support/model_inputs.h"

namespace tinyr2::nn {

namespace {

using infer::testing::DecodeCase;
using tinyr2::testing::random_token_ids;

// Logits (T,V) of the next tokens `ids` on a cache, alone (forward_cached, B = 1).
Tensor alone(const Model& m, ModelCache& cache, const std::vector<int32_t>& ids) {
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  const auto T = static_cast<int64_t>(ids.size());
  return m.forward_cached(ctx, IndexTensor({1, T}, ids), cache).view({T, m.cfg.vocab_size});
}

double row_error(const float* a, const float* e, int64_t V) {
  double diff = 0, scale = 0;
  for (int64_t v = 0; v < V; ++v) {
    diff = std::max(diff, std::abs(double(a[v]) - double(e[v])));
    scale = std::max(scale, std::abs(double(e[v])));
  }
  return diff / std::max(scale, 1e-30);
}

class BatchDecode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(BatchDecode, EqualsEachSequenceDecodedAlone) {
  const ModelConfig cfg = infer::testing::config_of(GetParam());
  Model model(cfg);
  model.init(7);
  const int64_t V = cfg.vocab_size;
  Rng rng(11);
  // Five sequences with prompts of different lengths (block l = 8, window w = 12).
  const std::vector<int64_t> prompt_len = {1, 7, 8, 13, 30};
  const size_t S = prompt_len.size();
  std::vector<ModelCache> batched, single;
  std::vector<int32_t> next(S);
  for (size_t s = 0; s < S; ++s) {
    batched.push_back(model.new_cache());
    single.push_back(model.new_cache());
    const std::vector<int32_t> prompt = random_token_ids(prompt_len[s], V, rng);
    const Tensor a = alone(model, batched[s], prompt), b = alone(model, single[s], prompt);
    ASSERT_EQ(row_error(a.data(), b.data(), V), 0.0);
    next[s] = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(V)));
  }
  // 24 steps; the active set changes: sequence s takes part in step k unless (k + s) % 4 == 3,
  // so rows leave and rejoin between steps and the batch size varies.
  double worst = 0;
  int64_t rows_checked = 0;
  for (int k = 0; k < 24; ++k) {
    std::vector<int32_t> ids;
    std::vector<ModelCache*> caches;
    std::vector<size_t> who;
    for (size_t s = 0; s < S; ++s)
      if ((k + static_cast<int>(s)) % 4 != 3) {
        ids.push_back(next[s]);
        caches.push_back(&batched[s]);
        who.push_back(s);
      }
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    const Tensor logits = model.forward_batch(ctx, ids, caches);
    ASSERT_EQ(logits.shape(), (Shape{static_cast<int64_t>(ids.size()), V}));
    for (size_t r = 0; r < who.size(); ++r) {
      const size_t s = who[r];
      const Tensor e = alone(model, single[s], {next[s]});
      ASSERT_EQ(batched[s].length(), single[s].length());
      const double err = row_error(logits.data() + static_cast<int64_t>(r) * V, e.data(), V);
      worst = std::max(worst, err);
      ++rows_checked;
      EXPECT_LE(err, 1e-5) << "sequence " << s << " at position " << single[s].length() - 1;
      next[s] = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(V)));
    }
  }
  EXPECT_GT(rows_checked, 80);
  RecordProperty("max_row_error", std::to_string(worst));
}

const char* const kCases[] = {
    "full_mlp",      "full_v_residual",  "moe_num_exp3",           "mhc_sinkhorn",
    "nsa_111",       "nsa_sigmoid_gate", "nsa_overlapping_blocks", "mixed_full_sparse_moe_mhc",
    "glu_silu_gelu", "router_attention", "router_expert_choice"};

std::vector<DecodeCase> cases() {
  std::vector<DecodeCase> out;
  for (const char* name : kCases)
    for (const DecodeCase& c : infer::testing::decode_cases())
      if (c.name == name) out.push_back(c);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Configs, BatchDecode, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(BatchDecodeChecks, RejectsTheSameCacheTwiceAndAFullCache) {
  ModelConfig cfg = infer::testing::config_of(infer::testing::decode_cases()[0]);
  cfg.ctx_len = 4;
  Model model(cfg);
  model.init(1);
  ModelCache a = model.new_cache(), b = model.new_cache();
  (void)alone(model, a, {1, 2, 3});
  (void)alone(model, b, {1, 2, 3, 4});
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  EXPECT_THROW(model.forward_batch(ctx, {1, 2}, {&a, &a}), Error);
  EXPECT_THROW(model.forward_batch(ctx, {1, 2}, {&a, &b}), Error);  // b is full
  EXPECT_THROW(model.forward_batch(ctx, {1000}, {&a}), Error);
  EXPECT_EQ(a.length(), 3);
}

}  // namespace

}  // namespace tinyr2::nn
