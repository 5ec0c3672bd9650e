// Cached decoding equals the full forward (SPEC §7): for every model configuration of the
// parity suites (and two at larger widths), the logits of a prompt prefilled in one batched
// pass and then of every token decoded one position at a time match the full-forward logits
// of the whole sequence within 1e-4 (max-norm relative error per position) — across
// compression-block boundaries, window wrap-around and changing selections.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "model_configs.h"
#include "nn/full_attention.h"
#include "nn/model.h"
#include "nn/model_cache.h"
#include "nn/sparse_attention.h"
#include "support/model_inputs.h"

namespace tinyr2::infer {

namespace {

using nn::ModelCache;
using testing::DecodeCase;
using tinyr2::testing::random_token_ids;

// Full-forward logits (T, V) of ids.
Tensor full_logits(const nn::Model& model, const std::vector<int32_t>& ids) {
  const int64_t T = static_cast<int64_t>(ids.size());
  return tinyr2::testing::eval_logits(model, ids).view({T, model.cfg.vocab_size});
}

// Runs ids through the cache in chunks of the given sizes (the rest one token at a time) and
// returns the logits of every position (T, V).
Tensor cached_logits(const nn::Model& model, ModelCache& cache, const std::vector<int32_t>& ids,
                     const std::vector<int64_t>& chunks) {
  const int64_t T = static_cast<int64_t>(ids.size()), V = model.cfg.vocab_size;
  Tensor out = Tensor::empty({T, V});
  int64_t pos = 0;
  size_t c = 0;
  while (pos < T) {
    const int64_t n = c < chunks.size() ? std::min(chunks[c++], T - pos) : 1;
    Tape tape;
    NoGradGuard ng(tape);
    nn::ForwardContext ctx(tape);
    const std::vector<int32_t> part(ids.begin() + pos, ids.begin() + pos + n);
    const Tensor logits = model.forward_cached(ctx, IndexTensor({1, n}, part), cache);
    EXPECT_EQ(logits.numel(), n * V);
    std::copy(logits.data(), logits.data() + n * V, out.data() + pos * V);
    pos += n;
    EXPECT_EQ(cache.length(), pos);
  }
  return out;
}

// max over positions of max|a−e| / max|e| on that position's logits.
double max_row_error(const Tensor& a, const Tensor& e, int64_t* worst = nullptr) {
  const int64_t T = e.size(0), V = e.size(1);
  double err = 0;
  for (int64_t t = 0; t < T; ++t) {
    double diff = 0, scale = 0;
    for (int64_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::abs(double(a.data()[t * V + v]) - double(e.data()[t * V + v])));
      scale = std::max(scale, std::abs(double(e.data()[t * V + v])));
    }
    const double r = diff / std::max(scale, 1e-30);
    if (r > err) {
      err = r;
      if (worst) *worst = t;
    }
  }
  return err;
}

class CachedDecoding : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(CachedDecoding, LogitsEqualTheFullForwardAtEveryPosition) {
  const DecodeCase& dc = GetParam();
  const nn::ModelConfig cfg = testing::config_of(dc);
  nn::Model model(cfg);
  model.init(11);
  const int64_t T = dc.T;
  ASSERT_LE(T, cfg.ctx_len);
  const std::vector<int32_t> ids = random_token_ids(T, cfg.vocab_size, 5);
  const Tensor expected = full_logits(model, ids);

  // Prefill of one token then one per step; a prompt of T/3 then a chunk of 17 (a batched
  // pass against a non-empty cache) then one per step; the whole sequence in one prefill.
  const std::vector<std::vector<int64_t>> schedules = {{1}, {T / 3, 17}, {T}};
  ModelCache cache = model.new_cache();
  for (const auto& schedule : schedules) {
    cache.clear();  // reuse: a cleared cache must behave like a new one
    const Tensor got = cached_logits(model, cache, ids, schedule);
    int64_t worst = -1;
    const double err = max_row_error(got, expected, &worst);
    EXPECT_LE(err, 1e-4) << dc.name << " schedule starting " << schedule[0] << ": worst position "
                         << worst;
    std::printf("[ decode   ] %-28s prefill %3ld: max relative error %.2e\n", dc.name.c_str(),
                static_cast<long>(schedule[0]), err);
  }

  // The Sparse caches stay sparse: the raw tail is shorter than a block, the window ring holds
  // w rows, the compressed cache one row per complete block.
  for (int64_t i = 0; i < cfg.n_layer; ++i) {
    const auto* s = dynamic_cast<const nn::SparseAttentionState*>(&cache.layer(i));
    if (!s) {
      if (const auto* f = dynamic_cast<const nn::FullAttentionState*>(&cache.layer(i)))
        EXPECT_EQ(f->k.rows(), T);
      else  // Retention, Mamba: a fixed-size state (SPEC §10), the same bytes after T positions
        EXPECT_EQ(cache.layer(i).bytes(), cache.layer(i).allocated_bytes());
      continue;
    }
    const nn::BranchSet br = cfg.branches(i);
    if (br[0] || br[1]) {
      EXPECT_EQ(s->k_cmp.rows(), (T - cfg.block_size) / cfg.block_stride + 1);
      EXPECT_LT(s->raw.rows(), cfg.block_size);
      EXPECT_EQ(s->raw_start + s->raw.rows(), T);
    }
    if (br[1]) {
      EXPECT_EQ(s->k_sel.rows(), T);
    }
    if (br[2]) {
      EXPECT_EQ(s->k_win.size(), std::min(T, cfg.window_size));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, CachedDecoding, ::testing::ValuesIn(testing::decode_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CachedDecoding, RejectsPositionsPastCtxLen) {
  nlohmann::json j = nlohmann::json::parse(testing::kBase);
  j["ctx_len"] = 16;
  j["attention_types"] = {"FULL", "Sparse"};
  const nn::ModelConfig cfg = nn::ModelConfig::from_json(j);
  nn::Model model(cfg);
  model.init(1);
  ModelCache cache(model);
  Tape tape;
  NoGradGuard ng(tape);
  nn::ForwardContext ctx(tape);
  model.forward_cached(ctx, IndexTensor({1, 16}, random_token_ids(16, cfg.vocab_size, 1)), cache,
                       true);
  EXPECT_EQ(cache.length(), 16);
  EXPECT_THROW(model.forward_cached(ctx, IndexTensor({1, 1}, {3}), cache), Error);
  EXPECT_EQ(cache.length(), 16);  // a refused step leaves the cache as it was
  EXPECT_THROW(model.forward_cached(ctx, IndexTensor({1, 1}, {101}), cache),
               Error);  // not in vocab
}

}  // namespace

}  // namespace tinyr2::infer
