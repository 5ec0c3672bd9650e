#include "infer/sampling.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>

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

namespace {

// The rank order as one integer: a token's key is its logit (NaN → −∞, −0 → +0) mapped to an
// unsigned integer of the same order, above the complement of its id, so that larger keys
// rank first and equal logits rank the lower id first.
uint64_t rank_key(float v, int32_t id) {
  if (std::isnan(v)) v = -std::numeric_limits<float>::infinity();
  if (v == 0) v = 0;  // −0 ties with +0
  uint32_t u = std::bit_cast<uint32_t>(v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (uint64_t{u} << 32) | (~static_cast<uint32_t>(id));
}
int32_t key_id(uint64_t key) {
  return static_cast<int32_t>(~static_cast<uint32_t>(key));
}
float key_logit(uint64_t key) {
  uint32_t u = static_cast<uint32_t>(key >> 32);
  u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
  return std::bit_cast<float>(u);
}

// The kept tokens (top-k) as rank keys, ranked lazily: keys[0, ranked) is sorted (rank order)
// and ranks before keys[ranked, bound), which ranks before keys[bound, size) (bound: a first cut
// by value, see first_cut()).
class Ranking {
 public:
  Ranking(const float* logits, int64_t vocab, int64_t top_k, std::vector<uint64_t>& keys)
      : keys_(keys) {
    keys_.resize(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) keys_[i] = rank_key(logits[i], static_cast<int32_t>(i));
    n_ = top_k > 0 && top_k < vocab ? static_cast<size_t>(top_k) : keys_.size();
    if (n_ <= static_cast<size_t>(kSortedTopK)) {  // a heap selection of the top k, sorted
      std::partial_sort(keys_.begin(), keys_.begin() + static_cast<ptrdiff_t>(n_), keys_.end(),
                        std::greater<>());
      keys_.resize(n_);
      ranked_ = n_;
    } else if (n_ < keys_.size()) {
      std::nth_element(keys_.begin(), keys_.begin() + static_cast<ptrdiff_t>(n_) - 1, keys_.end(),
                       std::greater<>());
      keys_.resize(n_);
    }
    bound_ = n_;
  }
  size_t size() const { return n_; }
  bool all_ranked() const { return ranked_ == n_; }
  const std::vector<uint64_t>& keys() const { return keys_; }  // the kept tokens, any order
  uint64_t max_key() const {
    return ranked_ > 0 ? keys_[0] : *std::max_element(keys_.begin(), keys_.end());
  }
  // Before any ranking: moves the keys ≥ `key` to the front; later ranks look there first.
  void first_cut(uint64_t key) {
    if (ranked_ > 0) return;
    const auto mid =
        std::partition(keys_.begin(), keys_.end(), [key](uint64_t k) { return k >= key; });
    bound_ = static_cast<size_t>(mid - keys_.begin());
  }
  // The r-th kept token in rank order (r < size()).
  uint64_t at(size_t r) {
    if (r >= ranked_) rank_to(std::min(n_, std::max(r + 1, std::max<size_t>(256, 4 * ranked_))));
    return keys_[r];
  }

 private:
  void rank_to(size_t m) {
    if (m > bound_) bound_ = n_;  // past the first cut: rank among all the rest
    m = std::min(m, bound_);
    const auto first = keys_.begin() + static_cast<ptrdiff_t>(ranked_);
    const auto mid = keys_.begin() + static_cast<ptrdiff_t>(m);
    const auto end = keys_.begin() + static_cast<ptrdiff_t>(bound_);
    if (mid < end) std::nth_element(first, mid, end, std::greater<>());
    std::sort(first, mid, std::greater<>());
    ranked_ = m;
  }

  std::vector<uint64_t>& keys_;
  size_t n_ = 0, ranked_ = 0, bound_ = 0;
};

// Temperature, top-k and the normaliser; then the top-p cut and the draw walk the rank order.
class Distribution {
 public:
  Distribution(const float* logits, int64_t vocab, const SamplingParams& params,
               std::vector<uint64_t>& scratch)
      : rank_(logits, vocab, params.top_k, scratch), temp_(params.temperature) {
    const float max_logit = key_logit(rank_.max_key());
    if (!std::isfinite(max_logit)) fail("sampling: the logits have no finite maximum");
    z_max_ = static_cast<double>(max_logit) / temp_;
    // The sum of every kept token's weight: in rank order when ranked whole (top-k), else in
    // the order of the keys (ids for no top-k).
    if (rank_.all_ranked()) {
      for (size_t r = 0; r < rank_.size(); ++r) total_ += weight(rank_.at(r));
    } else {
      for (uint64_t k : rank_.keys()) total_ += weight(k);
      // Most draws and top-p cuts end among the tokens within e^-8 of the most probable one:
      // rank those first (a partition by value), the rest only when needed.
      rank_.first_cut(rank_key(static_cast<float>(static_cast<double>(max_logit) - 8 * temp_),
                               std::numeric_limits<int32_t>::max()));
    }
  }
  size_t size() const { return rank_.size(); }
  int32_t id(size_t r) { return key_id(rank_.at(r)); }
  double prob(size_t r) { return weight(rank_.at(r)) / total_; }  // softmax over the kept

 private:
  double weight(uint64_t key) const {
    return std::exp(static_cast<double>(key_logit(key)) / temp_ - z_max_);
  }

  Ranking rank_;
  double temp_, z_max_ = 0, total_ = 0;
};

// u ∈ [0, 1) with 53 random bits, so that tokens far below 2^-24 keep their chance.
double uniform(Rng& rng) {
  return static_cast<double>(rng.next_below(uint64_t{1} << 53)) * 0x1p-53;
}

}  // namespace

Candidates filter(const float* logits, int64_t vocab, const SamplingParams& params) {
  validate(params);
  TINYR2_CHECK(vocab > 0, "sampling from an empty vocabulary");
  if (params.temperature == 0) return {{argmax(logits, vocab)}, {1.0}};
  std::vector<uint64_t> scratch;
  Distribution d(logits, vocab, params, scratch);
  Candidates c;
  // Top-p: the shortest prefix whose mass reaches p (the crossing token stays), ≥ 1 token.
  double mass = 0;
  for (size_t r = 0; r < d.size(); ++r) {
    c.ids.push_back(d.id(r));
    c.probs.push_back(d.prob(r));
    mass += c.probs.back();
    if (params.top_p < 1 && mass >= params.top_p) break;
  }
  if (params.top_p < 1)
    for (double& p : c.probs) p /= mass;
  return c;
}

int32_t sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
               std::vector<uint64_t>& scratch) {
  if (params.temperature == 0) return argmax(logits, vocab);
  validate(params);
  TINYR2_CHECK(vocab > 0, "sampling from an empty vocabulary");
  Distribution d(logits, vocab, params, scratch);
  if (params.top_p < 1) {
    // The kept prefix (as filter()), renormalised; then the draw over it.
    std::vector<double> probs;
    double mass = 0;
    for (size_t r = 0; r < d.size(); ++r) {
      probs.push_back(d.prob(r));
      mass += probs.back();
      if (mass >= params.top_p) break;
    }
    const double u = uniform(rng);
    double cum = 0;
    for (size_t r = 0; r < probs.size(); ++r) {
      cum += probs[r] / mass;
      if (u < cum) return d.id(r);
    }
    return d.id(probs.size() - 1);  // rounding left cum a hair below 1
  }
  // No top-p: the first token in rank order whose cumulative probability exceeds u.
  const double u = uniform(rng);
  double cum = 0;
  for (size_t r = 0; r < d.size(); ++r) {
    cum += d.prob(r);
    if (u < cum) return d.id(r);
  }
  return d.id(d.size() - 1);
}

int32_t sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng) {
  std::vector<uint64_t> scratch;
  return sample(logits, vocab, params, rng, scratch);
}

}  // namespace tinyr2::infer
