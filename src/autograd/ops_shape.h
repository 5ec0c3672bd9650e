// Differentiable shape ops. reshape is a view sharing storage; every other op copies (the
// tensor core only has contiguous tensors). Kernels in kernels/cpu/elementwise.
// Negative dims count from the end.
#pragma once

#include <vector>

#include "autograd/tape.h"

namespace tinyr2::ops {

// Same elements, new shape (one -1 is inferred); shares x's storage. Backward adds the
// gradient viewed back to x's shape.
Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape);

// Swaps dims d0 and d1 (a copy).
Tensor transpose(Tape& tape, const Tensor& x, int64_t d0, int64_t d1);

// out.shape[j] = x.shape[dims[j]] (a copy); dims is a permutation of x's dims.
Tensor permute(Tape& tape, const Tensor& x, const std::vector<int64_t>& dims);

// Joins tensors along an existing dim; all other dims must agree.
Tensor concat(Tape& tape, const std::vector<Tensor>& xs, int64_t dim);

// Joins tensors of one shape along a new dim inserted at `dim` (in [-(n+1), n]).
Tensor stack(Tape& tape, const std::vector<Tensor>& xs, int64_t dim);

// Cuts x along dim into pieces of the given sizes (summing to x.size(dim)). One tape node
// for all pieces; a piece that receives no gradient contributes zero.
std::vector<Tensor> split(Tape& tape, const Tensor& x, const std::vector<int64_t>& sizes,
                          int64_t dim);

// x[..., begin:end, ...] along dim (a copy); begin / end may be negative (from the end).
// Backward scatters the gradient into that range.
Tensor slice(Tape& tape, const Tensor& x, int64_t dim, int64_t begin, int64_t end);

// Broadcasts x to `shape` (torch.expand: aligned on trailing dims, new leading dims allowed,
// -1 keeps a size); a copy. Backward sums over the broadcast dims.
Tensor expand(Tape& tape, const Tensor& x, const Shape& shape);

}  // namespace tinyr2::ops
