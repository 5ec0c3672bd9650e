// Model-level properties shared by the mixer tests (SPEC §7, §10): a later token never changes
// an earlier position's logits, and decoding token by token through the model's cache gives
// every position's logits of the full forward.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "nn/model.h"
#include "support/model_inputs.h"
#include "support/op_case.h"

namespace tinyr2::nn {

// T random tokens; for each p in `cut`, the tokens from p on are changed: logits before p must
// stay within 1e-6, those from p on must move (> 1e-4); then cached decoding = full forward
// (relative error ≤ 1e-4).
inline void expect_causal_and_cached(const Model& m, int64_t T, const std::vector<int64_t>& cut) {
  const int64_t V = m.cfg.vocab_size;
  const std::vector<int32_t> v = testing::random_token_ids(T, V, 1);
  const Tensor base = testing::eval_logits(m, v);
  for (int64_t p : cut) {
    std::vector<int32_t> changed = v;
    for (int64_t t = p; t < T; ++t) changed[t] = (changed[t] + 11) % static_cast<int32_t>(V);
    const Tensor other = testing::eval_logits(m, changed);
    double before = 0, after = 0;
    for (int64_t i = 0; i < T * V; ++i) {
      const double d = std::abs(double(base.data()[i]) - other.data()[i]);
      (i < p * V ? before : after) = std::max(i < p * V ? before : after, d);
    }
    EXPECT_LE(before, 1e-6) << "position < " << p << " changed";
    EXPECT_GT(after, 1e-4);
  }
  // Decode one token at a time through the model cache: every position's logits.
  ModelCache cache = m.new_cache();
  Tensor stepwise = Tensor::empty({1, T, V});
  for (int64_t t = 0; t < T; ++t) {
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    const Tensor y = m.forward_cached(ctx, IndexTensor({1, 1}, {v[t]}), cache);
    std::copy(y.data(), y.data() + V, stepwise.data() + t * V);
  }
  EXPECT_LE(testing::relative_error(stepwise, base), 1e-4);
}

}  // namespace tinyr2::nn
