// Elementwise kernels on the CPU: broadcasting binary ops, scalar ops, activations, and the
// layout copies behind the shape ops (permute, row-block copies, expand).
//
// Backward kernels accumulate (+=) into the input gradients. Every loop is OpenMP-parallel
// above a size threshold.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/broadcast.h"

namespace tinyr2::kernels::cpu {

// ---------------------------------------------------------------- broadcasting
//
// BroadcastPlan, make_broadcast_plan and BinaryOp are in kernels/broadcast.h (device-neutral).
using kernels::BinaryOp;
using kernels::BroadcastPlan;
using kernels::make_broadcast_plan;

// out = a + b | a - b | a · b  (broadcast by the plan)
void binary_forward(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b,
                    float* out);
// Add: da += Σ g, db += Σ g;  Sub: da += Σ g, db -= Σ g;  Mul: da += Σ g·b, db += Σ g·a,
// each Σ over the dims that operand was broadcast along (accumulated in double).
// da / db may be null (no gradient wanted). a / b are read only for Mul.
void binary_backward(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b,
                     const float* g, float* da, float* db);

// expand: out = a broadcast to the plan's output (the plan's b is the output itself).
// Backward: da += Σ g over the broadcast dims.
void expand_forward(const BroadcastPlan& p, const float* a, float* out);
void expand_backward(const BroadcastPlan& p, const float* g, float* da);

// ---------------------------------------------------------------- scalar ops

// y += alpha · x   (the backward of scale, add_scalar, reshape and every plain copy)
void axpy(int64_t n, float alpha, const float* x, float* y);
// y = s · x
void scale_forward(const float* x, float s, float* y, int64_t n);
// y = x + s
void add_scalar_forward(const float* x, float s, float* y, int64_t n);

// ---------------------------------------------------------------- activations
// Forward y = f(x); backward dx += g · f'(x), from the saved input x or output y.

// y = max(x, 0)²                          dx += g · 2·max(x, 0)
void relu2_forward(const float* x, float* y, int64_t n);
void relu2_backward(const float* x, const float* g, float* dx, int64_t n);

// y = x · Φ(x), Φ(x) = ½(1 + erf(x/√2))  dx += g · (Φ(x) + x·φ(x)),  φ(x) = e^{-x²/2}/√(2π)
// (the exact erf form, not the tanh approximation; erf and exp are evaluated by vectorisable
// approximations accurate to a few float ulps, see elementwise.cpp)
void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* x, const float* g, float* dx, int64_t n);

// y = x · σ(x)                            dx += g · σ(x)·(1 + x·(1 - σ(x)))
void silu_forward(const float* x, float* y, int64_t n);
void silu_backward(const float* x, const float* g, float* dx, int64_t n);

// y = σ(x) = 1 / (1 + e^{-x})             dx += g · y·(1 - y)
void sigmoid_forward(const float* x, float* y, int64_t n);
void sigmoid_backward(const float* y, const float* g, float* dx, int64_t n);

// y = tanh(x)                             dx += g · (1 - y²)
void tanh_forward(const float* x, float* y, int64_t n);
void tanh_backward(const float* y, const float* g, float* dx, int64_t n);

// y = e^x                                 dx += g · y
void exp_forward(const float* x, float* y, int64_t n);
void exp_backward(const float* y, const float* g, float* dx, int64_t n);

// ---------------------------------------------------------------- layout copies

// dst[r·dst_ld + c] = src[r·src_ld + c] (or += when accumulate) for r < rows, c < len.
// concat, split, slice and stack are this copy on the (outer, dim·inner) view of a tensor.
void copy_rows(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows,
               int64_t len, bool accumulate);

// out = x with its dims reordered: out.shape[j] = in_shape[perm[j]] (or += when accumulate).
// The backward of a permute is the permute by the inverse permutation, accumulated.
void permute_copy(const float* x, const std::vector<int64_t>& in_shape,
                  const std::vector<int64_t>& perm, float* out, bool accumulate);

}  // namespace tinyr2::kernels::cpu
