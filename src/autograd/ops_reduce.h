// Differentiable sums and means, accumulated in double. Kernels in kernels/cpu/reduce.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// Σ / mean of all elements → a shape () scalar.
Tensor sum(Tape& tape, const Tensor& x);
Tensor mean(Tape& tape, const Tensor& x);

// Σ / mean over one dim (negative counts from the end); keepdim leaves it as size 1.
Tensor sum(Tape& tape, const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(Tape& tape, const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace tinyr2::ops
