// The LoRA product of one adapted Linear (SPEC §12) as one op: x (…, in), W (out, in),
// u (…, r) = (a/r)·A(drop(x)) (formed by the caller with ops), B (out, r) →
//   y = x·Wᵀ + u·Bᵀ   (…, out), one output buffer (the second GEMM accumulates into it).
// Against linear(x, W) + linear(u, B) it keeps no second and third (…, out) activation for
// backward — only x and u, which exist anyway. Backward: dx += dy·W, dW += dyᵀ·x (each only
// when required: a frozen W gets no gradient), du += dy·B, dB += dyᵀ·u. Matrix products in
// the tape's precision (SPEC §13).
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

Tensor linear_low_rank(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& u,
                       const Tensor& b);

}  // namespace tinyr2::ops
