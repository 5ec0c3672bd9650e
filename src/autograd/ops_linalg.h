// Differentiable matrix products.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// a (..., M, K) · b (K, N) or b (..., M?, K, N) with the same leading dims → (..., M, N).
// trans_a / trans_b use the transposes of the last two dims of a / b.
Tensor matmul(Tape& tape, const Tensor& a, const Tensor& b, bool trans_a = false,
              bool trans_b = false);

// nn.Linear without bias: x (..., in) · wᵀ with w (out, in) → (..., out).
Tensor linear(Tape& tape, const Tensor& x, const Tensor& w);

}  // namespace tinyr2::ops
