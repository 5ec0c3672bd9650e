// Fused glue of the Sparse (MLA + NSA) layer (SPEC §2.3), the loops behind ops_nsa's
// stacked_linear and gated_sum.
//
// Stacked projections. One GEMM computes several linear maps of the same input at once,
// Y = X·W_catᵀ with (M, N) Y; the column block [col, col + width) of Y is one output,
// copied out to its own (M, width) matrix. When heads > 0 the block is `heads` equal head
// slices of D = width/heads entries and RoPE (kernels/cpu/rope.h, half-split) rotates the
// last rope_dim entries of each slice at the row's position: with t = m mod T (rows are
// (batch, token) pairs), p = the table row t, half = rope_dim/2, and (a, b) = the entries
// (i, i + half) of the slice's tail,
//
//   forward   (a, b) → (a·cos − b·sin,  a·sin + b·cos)         (copy_out_columns)
//   backward  (ga, gb) → (ga·cos + gb·sin,  −ga·sin + gb·cos)  (copy_in_columns: the
//             transposed rotation, written into the block of the (M, N) gradient dY)
//
// which is exactly [x_nope ‖ RoPE(x_rope)] per head: the MLA query and the selection /
// window keys.
//
// Gated sum. The branch outputs o_c (M, H, Dv), c < n, mixed by gates g (M, G, n) with G = 1
// (one weight per token, shared by heads) or G = H (one per head):
//
//   forward   y[m,h] = Σ_c g[m, h·(G>1), c] · o_c[m,h]
//   backward  do_c[m,h] += g[m,·,c] · dy[m,h]
//             dg[m,h',c] += Σ_{h ∈ h'} o_c[m,h]·dy[m,h]   (h' = h for G = H; all h for G = 1)
//
// Backward kernels accumulate (+=); a null gradient pointer skips that gradient.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

using kernels::ColumnBlock;  // kernels/params.h

// out (M, width) = the block of y (M, N), rotated as above; cos_tab/sin_tab (T, rope_dim/2)
// are read only when the block has RoPE.
void copy_out_columns(const float* y, int64_t M, int64_t N, const ColumnBlock& block,
                      const float* cos_tab, const float* sin_tab, int64_t T, float* out);
// The block of dy (M, N) = g (M, width) rotated back (overwrites the block).
void copy_in_columns(const float* g, int64_t M, int64_t N, const ColumnBlock& block,
                     const float* cos_tab, const float* sin_tab, int64_t T, float* dy);

// outs: n pointers to (M, H, Dv); gates (M, G, n); y (M, H, Dv).
void gated_sum_forward(const float* const* outs, const float* gates, float* y, int64_t M, int64_t H,
                       int64_t Dv, int64_t G, int64_t n);
void gated_sum_backward(const float* const* outs, const float* gates, const float* dy,
                        float* const* douts, float* dgates, int64_t M, int64_t H, int64_t Dv,
                        int64_t G, int64_t n);

}  // namespace tinyr2::kernels::cpu
