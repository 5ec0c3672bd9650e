// Inputs and outputs of the model-level tests: deterministic random token ids from the engine's
// seeded Rng, and the logits of a plain no-grad forward (SPEC §7) to compare runs with.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/tape.h"
#include "core/index_tensor.h"
#include "core/rng.h"
#include "nn/model.h"

namespace tinyr2::testing {

// n ids, each rng.next_below(vocab) in turn.
inline std::vector<int32_t> random_token_ids(int64_t n, int64_t vocab, Rng& rng) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& v : ids) v = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(vocab)));
  return ids;
}

inline std::vector<int32_t> random_token_ids(int64_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  return random_token_ids(n, vocab, rng);
}

// A (B, T) batch of ids below V: random_token_ids(B·T, V, seed), row-major.
inline IndexTensor random_ids(int64_t B, int64_t T, int64_t V, uint64_t seed) {
  return IndexTensor({B, T}, random_token_ids(B * T, V, seed));
}

// The logits (B, T, V) of the full forward, without gradients.
inline Tensor eval_logits(const nn::Model& m, const IndexTensor& ids) {
  Tape tape;
  NoGradGuard ng(tape);
  nn::ForwardContext ctx(tape);
  return m.forward(ctx, ids).logits;
}

// The same for one sequence: logits (1, T, V).
inline Tensor eval_logits(const nn::Model& m, const std::vector<int32_t>& ids) {
  return eval_logits(m, IndexTensor({1, static_cast<int64_t>(ids.size())}, ids));
}

}  // namespace tinyr2::testing
