// The lazily ranked sampler (infer/sampling.cpp) against the implementation it replaced, kept
// here verbatim as the slow reference: a full ranking of the kept tokens (partial_sort over
// the vocabulary), the softmax normaliser summed in rank order, the top-p cut and the draw.
// Same seed → same tokens, draw for draw, on vocabularies beyond kSortedTopK (the lazy path),
// with ties, NaN and −∞ logits; where the ranking is still whole (top-k ≤ kSortedTopK, or a
// small vocabulary) the probabilities are bit-identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "infer/sampling.h"

namespace tinyr2::infer {

namespace {

// ---- the previous implementation (SPEC §7), unchanged
Candidates old_filter(const float* logits, int64_t vocab, const SamplingParams& params) {
  if (params.temperature == 0) return {{argmax(logits, vocab)}, {1.0}};
  auto key = [&](int32_t i) {
    const float v = logits[i];
    return std::isnan(v) ? -std::numeric_limits<float>::infinity() : v;
  };
  auto before = [&](int32_t a, int32_t b) {
    const float ka = key(a), kb = key(b);
    return ka > kb || (ka == kb && a < b);
  };
  const int64_t k = params.top_k > 0 && params.top_k < vocab ? params.top_k : vocab;
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
  order.resize(static_cast<size_t>(k));
  Candidates c;
  c.ids = std::move(order);
  c.probs.resize(c.ids.size());
  const double z_max = static_cast<double>(key(c.ids[0])) / params.temperature;
  double total = 0;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    c.probs[i] = std::exp(static_cast<double>(key(c.ids[i])) / params.temperature - z_max);
    total += c.probs[i];
  }
  for (double& p : c.probs) p /= total;
  if (params.top_p < 1) {
    double mass = 0;
    size_t m = 0;
    while (m < c.probs.size()) {
      mass += c.probs[m++];
      if (mass >= params.top_p) break;
    }
    c.ids.resize(m);
    c.probs.resize(m);
    for (double& p : c.probs) p /= mass;
  }
  return c;
}

int32_t old_sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng) {
  if (params.temperature == 0) return argmax(logits, vocab);
  const Candidates c = old_filter(logits, vocab, params);
  const double u = static_cast<double>(rng.next_below(uint64_t{1} << 53)) * 0x1p-53;
  double cum = 0;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    cum += c.probs[i];
    if (u < cum) return c.ids[i];
  }
  return c.ids.back();
}
// ----

std::vector<float> logits_of(int64_t vocab, float sigma, uint64_t seed, bool ties) {
  std::vector<float> logits(static_cast<size_t>(vocab));
  Rng(seed).normal(logits.data(), vocab, 0.f, sigma);
  if (ties)
    for (float& v : logits) v = std::round(v * 2.f) / 2.f;
  logits[7] = NAN;
  logits[11] = -std::numeric_limits<float>::infinity();
  logits[13] = -0.f;
  logits[14] = 0.f;
  return logits;
}

void expect_same_draws(const std::vector<float>& logits, const SamplingParams& p, int draws) {
  const auto V = static_cast<int64_t>(logits.size());
  const std::string what = ::testing::PrintToString(
      std::vector<double>{double(V), p.temperature, double(p.top_k), p.top_p});
  Rng old_rng(17);
  Sampler sampler(p, 17);
  for (int i = 0; i < draws; ++i)
    ASSERT_EQ(sampler.next(logits.data(), V), old_sample(logits.data(), V, p, old_rng))
        << what << " draw " << i;
  Rng rng(17);
  for (int i = 0; i < draws; ++i) sample(logits.data(), V, p, rng);
  EXPECT_EQ(rng.offset(), old_rng.offset()) << what;  // one Rng value per draw, as before

  const Candidates c = filter(logits.data(), V, p), old = old_filter(logits.data(), V, p);
  ASSERT_EQ(c.ids, old.ids) << what;
  const bool whole = V <= kSortedTopK || (p.top_k > 0 && p.top_k <= kSortedTopK);
  for (size_t i = 0; i < c.probs.size(); ++i) {
    if (whole)
      ASSERT_EQ(c.probs[i], old.probs[i]) << what << " rank " << i;  // bit-identical
    else
      ASSERT_NEAR(c.probs[i], old.probs[i], 1e-13 * old.probs[i]) << what << " rank " << i;
  }
}

const std::vector<SamplingParams> kParams = {{1.0, 0, 1.0},   {0.7, 0, 0.9},   {1.3, 0, 0.5},
                                             {1.0, 0, 0.0},   {1.0, 0, 0.99},  {1.0, 2000, 0.95},
                                             {0.8, 40, 0.95}, {1.0, 1024, 1.0}};

TEST(SamplingLazy, SameTokensAsTheFullRankingOnAFlatVocabulary) {
  const auto logits = logits_of(3000, 1.f, 1, /*ties=*/true);
  for (const SamplingParams& p : kParams) expect_same_draws(logits, p, 60);
}

TEST(SamplingLazy, SameTokensAsTheFullRankingOnAPeakedVocabulary) {
  const auto logits = logits_of(3000, 4.f, 2, /*ties=*/false);
  for (const SamplingParams& p : kParams) expect_same_draws(logits, p, 60);
}

TEST(SamplingLazy, SameTokensOnTheGpt2VocabularyAndASmallOne) {
  const auto big = logits_of(50257, 3.f, 3, /*ties=*/false);
  expect_same_draws(big, {1.0, 0, 0.9}, 6);
  expect_same_draws(big, {1.0, 0, 1.0}, 6);
  const auto small = logits_of(300, 2.f, 4, /*ties=*/true);
  for (const SamplingParams& p : kParams) expect_same_draws(small, p, 100);
}

TEST(SamplingLazy, NoFiniteLogitIsAnError) {
  std::vector<float> logits(3000, -std::numeric_limits<float>::infinity());
  logits[5] = NAN;
  Rng rng(1);
  EXPECT_THROW(sample(logits.data(), 3000, {1.0, 0, 0.9}, rng), Error);
  EXPECT_THROW(sample(logits.data(), 3000, {1.0, 0, 1.0}, rng), Error);
  EXPECT_THROW(filter(logits.data(), 3000, {1.0, 2000, 1.0}), Error);
}

}  // namespace

}  // namespace tinyr2::infer
