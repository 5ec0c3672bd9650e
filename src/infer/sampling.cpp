#include "infer/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace tinyr2::infer {

void validate(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0)
    fail("--temp must be a finite number >= 0, got {}", p.temperature);
  if (!(p.top_p >= 0 && p.top_p <= 1)) fail("--top-p must be in [0, 1], got {}", p.top_p);
}

int32_t argmax(const float* logits, int64_t vocab) {
  TINYR2_CHECK(vocab > 0, "argmax over an empty vocabulary");
  int64_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] > best_value) best_value = logits[i], best = i;  // strict: ties keep the lower id
  // Like sampling (filter below): NaN or infinite logits everywhere are an error, not token 0.
  if (!std::isfinite(best_value)) fail("sampling: the logits have no finite maximum");
  return static_cast<int32_t>(best);
}

Candidates filter(const float* logits, int64_t vocab, const SamplingParams& params) {
  validate(params);
  TINYR2_CHECK(vocab > 0, "sampling from an empty vocabulary");
  if (params.temperature == 0) return {{argmax(logits, vocab)}, {1.0}};

  // Rank by logit, descending, ties → lower id (NaN ranks last); keep the top k.
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
  if (!std::isfinite(key(order[0]))) fail("sampling: the logits have no finite maximum");

  // Softmax of logit / T over the kept tokens (double; the max is the first).
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

  // Top-p: the shortest prefix whose mass reaches p (the crossing token stays), ≥ 1 token.
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

int32_t sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng) {
  if (params.temperature == 0) return argmax(logits, vocab);
  const Candidates c = filter(logits, vocab, params);
  // u ∈ [0, 1) with 53 random bits, so that tokens far below 2^-24 keep their chance.
  const double u = static_cast<double>(rng.next_below(uint64_t{1} << 53)) * 0x1p-53;
  double cum = 0;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    cum += c.probs[i];
    if (u < cum) return c.ids[i];
  }
  return c.ids.back();  // rounding left cum a hair below 1
}

}  // namespace tinyr2::infer
