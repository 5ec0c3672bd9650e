// Range attention: softmax attention where query t sees the keys of one contiguous range.
//
// Layout (SPEC §2.1, §2.3): q (B,Tq,H,Dk), k (B,Tk,H,Dk), v (B,Tk,H,Dv), o (B,Tq,H,Dv),
// lse (B,Tq,H); row-major, heads inside a token's row. Query t of every batch b and head h
// sees the keys j in [lo[t], hi[t]) of batch b, head h:
//
//   forward   s_j = scale · q_t·k_j          lse_t = log Σ_j exp(s_j)
//             p_j = exp(s_j − lse_t)         o_t   = Σ_j p_j v_j
//   backward  D_t  = dO_t·o_t                dP_j  = dO_t·v_j          dS_j = p_j (dP_j − D_t)
//             dq_t += scale Σ_j dS_j k_j     dk_j += scale Σ_t dS_j q_t
//             dv_j += Σ_t p_j dO_t
//
// An empty range (lo[t] == hi[t]) gives o_t = 0, lse_t = −inf, and no gradient.
// Causal attention is lo = 0, hi = t + 1; a sliding window of w is lo = t − w + 1; NSA's
// compression branch is lo = 0, hi = number of complete blocks visible to t.
//
// Both directions are flash-attention style: keys are visited in tiles of kKeyTile with an
// online softmax (running max and sum), so no Tq×Tk matrix ever exists; the backward
// recomputes p from the saved lse (flash-attention 2). Backward kernels accumulate (+=);
// a null gradient pointer skips that gradient.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void range_attention_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                             int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                             float scale, const int32_t* lo, const int32_t* hi);

void range_attention_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* lse, const float* dout, float* dq, float* dk, float* dv,
                              int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                              float scale, const int32_t* lo, const int32_t* hi);

// ---- building blocks shared with index_attention.cpp (inline so loops vectorise) ----
// (their exp is fast_exp from fast_math.h)
namespace attention_detail {

// out[i] = a·x·y for 4 vectors y at once: four dot products sharing the loads of x.
inline void dot4(const float* x, const float* y0, const float* y1, const float* y2, const float* y3,
                 int64_t D, float a, float* out) {
  float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
  for (int64_t d = 0; d < D; ++d) {
    a0 += x[d] * y0[d];
    a1 += x[d] * y1[d];
    a2 += x[d] * y2[d];
    a3 += x[d] * y3[d];
  }
  out[0] = a * a0;
  out[1] = a * a1;
  out[2] = a * a2;
  out[3] = a * a3;
}

// y += c0·x0 + c1·x1 + c2·x2 + c3·x3: four axpys with one pass over y.
inline void axpy4(float c0, const float* x0, float c1, const float* x1, float c2, const float* x2,
                  float c3, const float* x3, float* y, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; ++d) y[d] += c0 * x0[d] + c1 * x1[d] + c2 * x2[d] + c3 * x3[d];
}

// y += c·x
inline void axpy(float c, const float* x, float* y, int64_t D) {
#pragma omp simd
  for (int64_t d = 0; d < D; ++d) y[d] += c * x[d];
}

}  // namespace attention_detail

}  // namespace tinyr2::kernels::cpu
