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

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

void range_attention_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                             int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                             float scale, const int32_t* lo, const int32_t* hi);

void range_attention_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* lse, const float* dout, float* dq, float* dk, float* dv,
                              int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                              float scale, const int32_t* lo, const int32_t* hi);

// ---- building blocks shared with index_attention.cpp and nsa_block_attention.cpp (inline
// so the loops vectorise; their exp is fast_exp from fast_math.h) ----
namespace attention_detail {

constexpr int64_t kKeyTile = 32;  // keys per tile: the columns of a score block
constexpr int64_t kRows = 4;      // queries per score block (register tile 4 × kKeyTile)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kOnes[kRows] = {1.f, 1.f, 1.f, 1.f};

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

// Key rows j0 … j0+n−1 of one head (row stride ld) → kt (D × kKeyTile, key index inner),
// columns past n zeroed. Transposing once per tile makes the score loop below run over
// contiguous keys.
inline void transpose_tile(const float* x, int64_t ld, int64_t n, int64_t D, float* kt) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t d = 0; d < D; ++d) kt[d * kKeyTile + j] = x[j * ld + d];
  for (int64_t d = 0; d < D; ++d)
    for (int64_t j = n; j < kKeyTile; ++j) kt[d * kKeyTile + j] = 0.f;
}

// s[r·kKeyTile + j] = a · Σ_d x_r[d] · kt[d·kKeyTile + j] for 4 rows x_r and the keys of a
// transposed tile: a 4 × kKeyTile register tile, each kt load shared by the 4 rows.
inline void block_scores(const float* const x[kRows], const float* kt, int64_t D, float a,
                         float* s) {
  float acc0[kKeyTile] = {}, acc1[kKeyTile] = {}, acc2[kKeyTile] = {}, acc3[kKeyTile] = {};
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  for (int64_t d = 0; d < D; ++d) {
    const float c0 = x0[d], c1 = x1[d], c2 = x2[d], c3 = x3[d];
    const float* kr = kt + d * kKeyTile;
#pragma omp simd
    for (int64_t j = 0; j < kKeyTile; ++j) {
      acc0[j] += c0 * kr[j];
      acc1[j] += c1 * kr[j];
      acc2[j] += c2 * kr[j];
      acc3[j] += c3 * kr[j];
    }
  }
#pragma omp simd
  for (int64_t j = 0; j < kKeyTile; ++j) {
    s[j] = a * acc0[j];
    s[kKeyTile + j] = a * acc1[j];
    s[2 * kKeyTile + j] = a * acc2[j];
    s[3 * kKeyTile + j] = a * acc3[j];
  }
}

// One register tile of the two products below: for the columns c < w ≤ kCols of 4 output
// rows y_k (k < 4),
//   y_k[c] = beta_k·y_k[c] + Σ_{i<n} P[i·ps + k·pk] · x[i·ldx + c],
// four rank-1 updates per step i, each load of a row of x shared by the 4 outputs. Always
// inlined: a full-width tile (w = kCols) then runs a constant trip count, and the
// accumulators stay in registers.
constexpr int64_t kCols = 32;
[[gnu::always_inline]] inline void tile4(const float* P, int64_t ps, int64_t pk, const float* x,
                                         int64_t ldx, int64_t n, int64_t w, float* const y[kRows],
                                         const float beta[kRows]) {
  float a0[kCols] = {}, a1[kCols] = {}, a2[kCols] = {}, a3[kCols] = {};
  auto accumulate = [&](int64_t width) __attribute__((always_inline)) {
    for (int64_t i = 0; i < n; ++i) {
      const float* pi = P + i * ps;
      const float p0 = pi[0], p1 = pi[pk], p2 = pi[2 * pk], p3 = pi[3 * pk];
      const float* xr = x + i * ldx;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) {
        a0[c] += p0 * xr[c];
        a1[c] += p1 * xr[c];
        a2[c] += p2 * xr[c];
        a3[c] += p3 * xr[c];
      }
    }
  };
  if (w == kCols)
    accumulate(kCols);
  else
    accumulate(w);
  float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
  const float b0 = beta[0], b1 = beta[1], b2 = beta[2], b3 = beta[3];
#pragma omp simd
  for (int64_t c = 0; c < w; ++c) {
    y0[c] = b0 * y0[c] + a0[c];
    y1[c] = b1 * y1[c] + a1[c];
    y2[c] = b2 * y2[c] + a2[c];
    y3[c] = b3 * y3[c] + a3[c];
  }
}

// y_r = alpha_r·y_r + Σ_{j ∈ [ja, jb)} P[r·kKeyTile + j] · x_j for 4 rows y_r, with the rows
// x_j at x + j·ldx (width D): tiles of 4 rows × kCols columns of y.
inline void block_pv(const float* P, const float* x, int64_t ldx, int64_t ja, int64_t jb, int64_t D,
                     float* const y[kRows], const float alpha[kRows]) {
  for (int64_t c0 = 0; c0 < D; c0 += kCols) {
    float* const yc[kRows] = {y[0] + c0, y[1] + c0, y[2] + c0, y[3] + c0};
    tile4(P + ja, 1, kKeyTile, x + ja * ldx + c0, ldx, jb - ja, std::min(kCols, D - c0), yc, alpha);
  }
}

// out[j·D + c] += Σ_{i<n} P[i·kKeyTile + j] · X[i·D + c] for the keys j ∈ [ja, jb) (taken 4
// at a time from ja rounded down; P must be 0 in the extra columns) and all D columns: the
// transposed product Pᵀ·X into a kKeyTile × D buffer, in tiles of 4 keys × kCols columns.
inline void block_atb(const float* P, const float* X, int64_t n, int64_t ja, int64_t jb, int64_t D,
                      float* out) {
  static_assert(kKeyTile % 4 == 0);
  for (int64_t j = ja & ~int64_t{3}; j < jb; j += 4)
    for (int64_t c0 = 0; c0 < D; c0 += kCols) {
      float* const oc[kRows] = {out + j * D + c0, out + (j + 1) * D + c0, out + (j + 2) * D + c0,
                                out + (j + 3) * D + c0};
      tile4(P + j, kKeyTile, 1, X + c0, D, n, std::min(kCols, D - c0), oc, kOnes);
    }
}

// One online-softmax step for 4 queries over a key tile: s holds their scaled scores
// (4 × kKeyTile), row r's keys in this tile are [ra[r], re[r]). Per row, with m the
// running max and l the running Σ exp(s − m): m' = max(m, max s), alpha = exp(m − m'),
// l' = alpha·l + Σ exp(s − m'). s becomes P = exp(s − m') inside the range and exactly 0
// outside it (and for rows without keys here, which keep alpha = 1). W: the tile's first W
// keys (a narrower tile, e.g. the sliding window's edge tiles; the row stride stays kKeyTile).
template <int64_t W = kKeyTile>
inline void online_softmax_step(float* s, const int64_t ra[kRows], const int64_t re[kRows],
                                float* m, float* l, float alpha[kRows]) {
  for (int64_t r = 0; r < kRows; ++r) {
    float* sr = s + r * kKeyTile;
    const int64_t a = ra[r], e = re[r];
    if (a >= e) {
      std::fill(sr, sr + W, 0.f);
      alpha[r] = 1.f;
      continue;
    }
    float mx = m[r];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < W; ++j) {
      const float x = j >= a && j < e ? sr[j] : kNegInf;
      mx = x > mx ? x : mx;
    }
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < W; ++j) {
      const float p = j >= a && j < e ? fast_exp(sr[j] - mx) : 0.f;
      sr[j] = p;
      sum += p;
    }
    alpha[r] = fast_exp(m[r] - mx);  // 0 on a row's first step (m = −inf)
    l[r] = l[r] * alpha[r] + sum;
    m[r] = mx;
  }
}

}  // namespace attention_detail

}  // namespace tinyr2::kernels::cpu
