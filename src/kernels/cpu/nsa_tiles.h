// Register tiles shared by the NSA attention kernels (nsa_window_attention.cpp,
// nsa_block_attention.cpp), with the head widths as template arguments: kD > 0 fixes the
// width at compile time (the default Dk 96 / Dv 32, SPEC §2.3), so every loop has a constant
// trip count and the 4-row accumulators stay in registers; kD = 0 takes the run-time width.
// The same sums in the same order as attention_detail's block_scores / block_pv / block_atb
// (kernels/cpu/attention.h), whose 4 × kCols register tile (tile4) they reuse.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/attention.h"

namespace tinyr2::kernels::cpu::nsa_tiles {

using attention_detail::kCols;
using attention_detail::kKeyTile;
using attention_detail::kRows;

// 16 floats as one GCC/Clang vector (a zmm register with AVX-512): the 4-row accumulators
// below are arrays of these, which the compiler keeps in registers (plain float arrays under
// `omp simd` were kept on the stack in the block kernel, one load and store per multiply-add).
// Unaligned loads and stores through memcpy.
//
// Without AVX-512 a 64-byte GCC vector has no register: GCC lowers it through the stack, one
// xmm move at a time (on an AVX2 Zen 3 the block kernel ran at 3.8 GFLOP/s and the NSA layer
// took 5× the FULL layer's time at T = 512). There Vec16 is a pair of 8-float vectors (two ymm
// registers) with the same element-wise operations, so every lane computes the same sum in
// the same order.
#if defined(__AVX512F__)
using Vec16 = float __attribute__((vector_size(64)));
[[gnu::always_inline]] inline Vec16 load16(const float* p) {
  Vec16 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store16(float* p, Vec16 v) {
  __builtin_memcpy(p, &v, sizeof v);
}
#else
using Vec8 = float __attribute__((vector_size(32)));
struct Vec16 {
  Vec8 lo, hi;
};
[[gnu::always_inline]] inline Vec16 load16(const float* p) {
  Vec16 v;
  __builtin_memcpy(&v.lo, p, sizeof v.lo);
  __builtin_memcpy(&v.hi, p + 8, sizeof v.hi);
  return v;
}
[[gnu::always_inline]] inline void store16(float* p, Vec16 v) {
  __builtin_memcpy(p, &v.lo, sizeof v.lo);
  __builtin_memcpy(p + 8, &v.hi, sizeof v.hi);
}
[[gnu::always_inline]] inline Vec16 operator*(float a, Vec16 v) {
  return {a * v.lo, a * v.hi};
}
[[gnu::always_inline]] inline Vec16 operator+(Vec16 a, Vec16 b) {
  return {a.lo + b.lo, a.hi + b.hi};
}
[[gnu::always_inline]] inline Vec16& operator+=(Vec16& a, Vec16 b) {
  a.lo += b.lo;
  a.hi += b.hi;
  return a;
}
#endif

// Vec16s per row that one pass of a 4-row tile keeps in registers: 2 with AVX-512 (8 of its
// 32 zmm registers), 1 with AVX2, whose 16 ymm registers cannot hold a 4 × 32 tile's 16
// accumulators and its operands (GCC spilled part of them to the stack). A 4 × 32 tile is
// then two passes of 16 columns: each column's sum is the same, in the same order.
#if defined(__AVX512F__)
constexpr int64_t kPassVecs = 2;
#else
constexpr int64_t kPassVecs = 1;
#endif

// dst[c] = src[c] for c < D: inline 16 floats at a time when the width is a compile-time
// multiple of 16 (std::copy of a head row is a library call).
template <int64_t kD>
[[gnu::always_inline]] inline void copy_row(const float* src, int64_t D_rt, float* dst) {
  if constexpr (kD > 0 && kD % 16 == 0) {
    for (int64_t c = 0; c < kD; c += 16) store16(dst + c, load16(src + c));
  } else {
    std::copy(src, src + D_rt, dst);
  }
}

// s[r·kKeyTile + j] = a · Σ_d x_r[d] · xt[d·ldt + j], j < W (a multiple of 16), for 4 rows:
// a 4 × W register tile over a transposed key span (row stride ldt).
template <int64_t W, int64_t kD>
[[gnu::always_inline]] inline void scores4(const float* const x[kRows], const float* xt,
                                           int64_t ldt, int64_t D_rt, float a, float* s) {
  static_assert(W % 16 == 0 && W <= kKeyTile);
  if constexpr (W / 16 > kPassVecs) {  // columns [0, W/2) then [W/2, W)
    static_assert(W / 32 == kPassVecs);
    scores4<W / 2, kD>(x, xt, ldt, D_rt, a, s);
    scores4<W / 2, kD>(x, xt + W / 2, ldt, D_rt, a, s + W / 2);
    return;
  }
  constexpr int64_t NV = W / 16;
  const int64_t D = kD > 0 ? kD : D_rt;
  Vec16 a0[NV] = {}, a1[NV] = {}, a2[NV] = {}, a3[NV] = {};
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  for (int64_t d = 0; d < D; ++d) {
    const float c0 = x0[d], c1 = x1[d], c2 = x2[d], c3 = x3[d];
    const float* kr = xt + d * ldt;
    for (int64_t v = 0; v < NV; ++v) {
      const Vec16 k = load16(kr + 16 * v);
      a0[v] += c0 * k;
      a1[v] += c1 * k;
      a2[v] += c2 * k;
      a3[v] += c3 * k;
    }
  }
  for (int64_t v = 0; v < NV; ++v) {
    store16(s + 16 * v, a * a0[v]);
    store16(s + kKeyTile + 16 * v, a * a1[v]);
    store16(s + 2 * kKeyTile + 16 * v, a * a2[v]);
    store16(s + 3 * kKeyTile + 16 * v, a * a3[v]);
  }
}

// attention_detail::tile4 at its full width kCols = 32, accumulators as vectors: for the
// columns c < 32 of 4 output rows y_k, y_k[c] = beta_k·y_k[c] + Σ_{i<n} P[i·ps + k·pk] ·
// x[i·ldx + c] (the same sums in the same order).
[[gnu::always_inline]] inline void tile4_full(const float* P, int64_t ps, int64_t pk,
                                              const float* x, int64_t ldx, int64_t n,
                                              float* const y[kRows], const float beta[kRows]) {
  static_assert(kCols == 32 && 2 % kPassVecs == 0);
  for (int64_t v0 = 0; v0 < 2; v0 += kPassVecs) {  // one pass, or two of 16 columns
    Vec16 a0[kPassVecs] = {}, a1[kPassVecs] = {}, a2[kPassVecs] = {}, a3[kPassVecs] = {};
    for (int64_t i = 0; i < n; ++i) {
      const float* pi = P + i * ps;
      const float p0 = pi[0], p1 = pi[pk], p2 = pi[2 * pk], p3 = pi[3 * pk];
      const float* xr = x + i * ldx + 16 * v0;
      for (int64_t v = 0; v < kPassVecs; ++v) {
        const Vec16 xv = load16(xr + 16 * v);
        a0[v] += p0 * xv;
        a1[v] += p1 * xv;
        a2[v] += p2 * xv;
        a3[v] += p3 * xv;
      }
    }
    const Vec16* acc[kRows] = {a0, a1, a2, a3};
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t v = 0; v < kPassVecs; ++v) {
        float* yr = y[r] + 16 * (v0 + v);
        store16(yr, beta[r] * load16(yr) + acc[r][v]);
      }
  }
}

// One 4 × kCols tile: the vector one at full width, attention_detail::tile4 for a narrower
// last tile of a run-time width.
[[gnu::always_inline]] inline void tile4_any(const float* P, int64_t ps, int64_t pk, const float* x,
                                             int64_t ldx, int64_t n, int64_t w,
                                             float* const y[kRows], const float beta[kRows]) {
  if (w == kCols)
    tile4_full(P, ps, pk, x, ldx, n, y, beta);
  else
    attention_detail::tile4(P, ps, pk, x, ldx, n, w, y, beta);
}

// y_r = alpha_r·y_r + Σ_{j ∈ [ja, jb)} P[r·kKeyTile + j] · x_j for 4 rows y_r (block_pv).
template <int64_t kD>
[[gnu::always_inline]] inline void pv4(const float* P, const float* x, int64_t ldx, int64_t ja,
                                       int64_t jb, int64_t D_rt, float* const y[kRows],
                                       const float alpha[kRows]) {
  const int64_t D = kD > 0 ? kD : D_rt;
  for (int64_t c0 = 0; c0 < D; c0 += kCols) {
    float* const yc[kRows] = {y[0] + c0, y[1] + c0, y[2] + c0, y[3] + c0};
    tile4_any(P + ja, 1, kKeyTile, x + ja * ldx + c0, ldx, jb - ja, std::min(kCols, D - c0), yc,
              alpha);
  }
}

// out[j·D + c] += Σ_{i<n} P[i·kKeyTile + j] · X[i·D + c] for the keys j ∈ [ja, jb), 4 at a
// time from ja rounded down (block_atb).
template <int64_t kD>
[[gnu::always_inline]] inline void atb4(const float* P, const float* X, int64_t n, int64_t ja,
                                        int64_t jb, int64_t D_rt, float* out) {
  const int64_t D = kD > 0 ? kD : D_rt;
  for (int64_t j = ja & ~int64_t{3}; j < jb; j += 4)
    for (int64_t c0 = 0; c0 < D; c0 += kCols) {
      float* const oc[kRows] = {out + j * D + c0, out + (j + 1) * D + c0, out + (j + 2) * D + c0,
                                out + (j + 3) * D + c0};
      tile4_any(P + j, kKeyTile, 1, X + c0, D, n, std::min(kCols, D - c0), oc,
                attention_detail::kOnes);
    }
}

}  // namespace tinyr2::kernels::cpu::nsa_tiles
