// Sampling (SPEC §7): temperature → top-k → top-p → a seeded draw, against an independent
// reference written here by ranks (not by sorting): token i's rank is the number of tokens
// with a larger logit or an equal logit and a lower id; top-k keeps rank < k; top-p keeps a
// token iff the probability mass of the kept tokens ranked before it is still below p.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "infer/sampling.h"

namespace tinyr2::infer {

namespace {

struct Ref {
  std::map<int32_t, double> probs;  // kept id → renormalised probability
};

Ref reference(const std::vector<float>& logits, const SamplingParams& p) {
  const int64_t V = static_cast<int64_t>(logits.size());
  auto rank = [&](int64_t i) {
    int64_t r = 0;
    for (int64_t j = 0; j < V; ++j)
      if (logits[j] > logits[i] || (logits[j] == logits[i] && j < i)) ++r;
    return r;
  };
  std::vector<int64_t> ranks(V);
  for (int64_t i = 0; i < V; ++i) ranks[i] = rank(i);
  const int64_t k = p.top_k > 0 ? p.top_k : V;
  std::vector<double> prob(V, 0.0);
  double total = 0;
  double zmax = -INFINITY;
  for (int64_t i = 0; i < V; ++i) zmax = std::max(zmax, double(logits[i]) / p.temperature);
  for (int64_t i = 0; i < V; ++i)
    if (ranks[i] < k) total += prob[i] = std::exp(double(logits[i]) / p.temperature - zmax);
  for (double& x : prob) x /= total;
  Ref ref;
  double kept_total = 0;
  for (int64_t i = 0; i < V; ++i) {
    if (ranks[i] >= k) continue;
    double before = 0;  // mass ranked ahead of i, summed in rank order
    for (int64_t r = 0; r < ranks[i]; ++r)
      for (int64_t j = 0; j < V; ++j)
        if (ranks[j] == r) before += prob[j];
    if (p.top_p >= 1 || before < p.top_p || ranks[i] == 0) {
      ref.probs[static_cast<int32_t>(i)] = prob[i];
      kept_total += prob[i];
    }
  }
  for (auto& [id, q] : ref.probs) q /= kept_total;
  return ref;
}

void expect_matches_reference(const std::vector<float>& logits, const SamplingParams& p) {
  const Candidates c = filter(logits.data(), static_cast<int64_t>(logits.size()), p);
  const Ref ref = reference(logits, p);
  const std::string what =
      ::testing::PrintToString(std::vector<double>{p.temperature, double(p.top_k), p.top_p});
  ASSERT_EQ(c.ids.size(), ref.probs.size()) << what;
  double sum = 0;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    ASSERT_TRUE(ref.probs.count(c.ids[i])) << what << ": id " << c.ids[i] << " should not survive";
    EXPECT_NEAR(c.probs[i], ref.probs.at(c.ids[i]), 1e-12) << what;
    if (i > 0) {  // most probable first, ties → lower id
      EXPECT_TRUE(logits[c.ids[i - 1]] > logits[c.ids[i]] ||
                  (logits[c.ids[i - 1]] == logits[c.ids[i]] && c.ids[i - 1] < c.ids[i]))
          << what;
    }
    sum += c.probs[i];
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(Sampling, FilterEqualsTheReferenceWithTies) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f, -1.0f, 3.0f, 0.5f, 2.0f};
  for (double temp : {0.5, 1.0, 2.0})
    for (int64_t k : {0, 1, 2, 3, 4, 5, 8, 100})
      for (double p : {0.0, 0.3, 0.5, 0.75, 0.9, 0.999, 1.0})
        expect_matches_reference(logits, {temp, k, p});
}

TEST(Sampling, FilterEqualsTheReferenceOnARandomVocabulary) {
  Rng rng(3);
  std::vector<float> logits(300);
  rng.normal(logits.data(), 300, 0.f, 2.f);
  for (float& v : logits) v = std::round(v * 4.f) / 4.f;  // many ties
  for (double temp : {0.7, 1.3})
    for (int64_t k : {0, 10, 40, 299})
      for (double p : {0.1, 0.8, 0.95, 1.0}) expect_matches_reference(logits, {temp, k, p});
}

TEST(Sampling, TopPKeepsTheTokenThatCrossesP) {
  // Four equal tokens (0.25 each): p = 0.5 is reached exactly by two, p = 0.51 needs three.
  const std::vector<float> flat(4, 0.f);
  EXPECT_EQ(filter(flat.data(), 4, {1.0, 0, 0.5}).ids, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(filter(flat.data(), 4, {1.0, 0, 0.51}).ids, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(filter(flat.data(), 4, {1.0, 0, 0.0}).ids, (std::vector<int32_t>{0}));  // at least one
  // p = 1 keeps everything, even tokens whose mass vanishes next to the rest.
  const std::vector<float> steep = {0.f, -200.f, -300.f, 50.f};
  EXPECT_EQ(filter(steep.data(), 4, {1.0, 0, 1.0}).ids.size(), 4u);
  EXPECT_EQ(filter(steep.data(), 4, {1.0, 0, 0.9999}).ids, (std::vector<int32_t>{3}));
}

TEST(Sampling, GreedyIsArgmaxWithTiesToTheLowerId) {
  const std::vector<float> logits = {1.f, 5.f, 2.f, 5.f, NAN, 5.f};
  EXPECT_EQ(argmax(logits.data(), 6), 1);
  Rng rng(1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(sample(logits.data(), 6, {0.0, 1, 0.1}, rng), 1);
  EXPECT_EQ(rng.offset(), 0u);  // greedy draws nothing
  const Candidates c = filter(logits.data(), 6, {0.0, 40, 0.9});
  EXPECT_EQ(c.ids, (std::vector<int32_t>{1}));
}

TEST(Sampling, SeededSamplingIsReproducible) {
  std::vector<float> logits(50);
  Rng(9).normal(logits.data(), 50);
  const SamplingParams p{1.0, 0, 1.0};
  auto draw = [&](uint64_t seed) {
    Sampler s(p, seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.next(logits.data(), 50));
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(Sampling, DrawsFollowTheFilteredDistribution) {
  // softmax = 1/6, 2/6, 3/6; with top-k 2 only ids 2 and 1 remain, 3/5 and 2/5.
  const std::vector<float> logits = {0.f, std::log(2.f), std::log(3.f)};
  for (int64_t k : {0, 2}) {
    Sampler s({1.0, k, 1.0}, 7);
    std::vector<int> count(3, 0);
    const int n = 60000;
    for (int i = 0; i < n; ++i) ++count[s.next(logits.data(), 3)];
    const std::vector<double> expected = k == 0 ? std::vector<double>{1 / 6., 2 / 6., 3 / 6.}
                                                : std::vector<double>{0., 2 / 5., 3 / 5.};
    for (int i = 0; i < 3; ++i)
      EXPECT_NEAR(count[i] / double(n), expected[i], 0.01) << "k=" << k << " id " << i;
  }
  // Temperature sharpens: T = 0.5 squares the odds (1:4:9).
  Sampler s({0.5, 0, 1.0}, 8);
  int top = 0;
  for (int i = 0; i < 60000; ++i) top += s.next(logits.data(), 3) == 2;
  EXPECT_NEAR(top / 60000.0, 9 / 14.0, 0.01);
}

TEST(Sampling, RejectsBadParameters) {
  const std::vector<float> logits = {0.f, 1.f};
  EXPECT_THROW(filter(logits.data(), 2, {-0.1, 0, 1.0}), Error);
  EXPECT_THROW(filter(logits.data(), 2, {NAN, 0, 1.0}), Error);
  EXPECT_THROW(filter(logits.data(), 2, {1.0, 0, 1.5}), Error);
  EXPECT_THROW(filter(logits.data(), 2, {1.0, 0, -0.5}), Error);
  EXPECT_THROW(Sampler({1.0, 0, 2.0}, 1), Error);
}

}  // namespace

}  // namespace tinyr2::infer
