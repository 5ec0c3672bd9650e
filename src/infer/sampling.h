// Next-token sampling (SPEC §7): logits / temperature → top-k → top-p → a draw from a seeded Rng.
//
//   temperature T > 0   z_i = logit_i / T,  p_i = softmax(z)_i
//   top-k  (k > 0)      keep the k largest logits; ties at the cut go to the lower id
//   top-p  (p < 1)      sort the kept tokens by p_i (descending, ties → lower id), renormalise
//                       over them, and keep the shortest prefix whose mass reaches p — the
//                       token that crosses p stays; at least one token is kept
//   draw                u ~ U[0,1) from the Rng (one value per token), the first kept token
//                       (in that order) whose cumulative renormalised mass exceeds u
//   T = 0               greedy: argmax of the logits, ties → the lower id (no Rng draw)
//
// Flags follow llama.cpp: top_k ≤ 0 disables top-k, top_p = 1 disables top-p.
//
// Cost: the full order is never built. Every kept token's weight exp(z_i − z_max) is summed
// (one pass); the order is ranked lazily, in growing prefixes (nth_element on the unranked rest,
// then a sort of the chunk), only as far as the top-p cut or the draw reaches. A top-k of at
// most kSortedTopK is sorted whole, as before. The normaliser is summed in id order for the
// lazy path (a sorted sum over 50k tokens would need the full sort): probabilities may differ
// from a sorted-order sum in the last bits, never the order or the arithmetic of the cut and
// the draw.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace tinyr2::infer {

struct SamplingParams {
  double temperature = 0.8;
  int64_t top_k = 40;
  double top_p = 0.95;
};

// Throws tinyr2::Error naming the flag when a value is out of range (temperature < 0 or not
// finite, top_p outside [0, 1]).
void validate(const SamplingParams& params);

// The tokens that survive temperature, top-k and top-p, most probable first (ties → lower id),
// with their probabilities renormalised over the survivors (summing to 1). Greedy (T = 0)
// gives the argmax alone with probability 1.
struct Candidates {
  std::vector<int32_t> ids;
  std::vector<double> probs;
};
Candidates filter(const float* logits, int64_t vocab, const SamplingParams& params);

// argmax of logits[0, vocab), ties → lower id (NaN never wins).
int32_t argmax(const float* logits, int64_t vocab);

// One token drawn from `logits` (vocab entries) with `params`; consumes one Rng value unless
// greedy. `scratch` (any content; reused between calls to save the allocation) holds the
// ranking keys.
int32_t sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
               std::vector<uint64_t>& scratch);
int32_t sample(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng);

// A top-k up to this is ranked whole (a sort of k tokens); beyond it, and without top-k, the
// order is ranked lazily.
inline constexpr int64_t kSortedTopK = 1024;

// A sampler with its own seeded stream: the same seed and logits give the same tokens.
class Sampler {
 public:
  Sampler(SamplingParams params, uint64_t seed) : params_(params), rng_(seed) { validate(params_); }
  int32_t next(const float* logits, int64_t vocab) {
    return sample(logits, vocab, params_, rng_, scratch_);
  }
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  Rng rng_;
  std::vector<uint64_t> scratch_;
};

}  // namespace tinyr2::infer
