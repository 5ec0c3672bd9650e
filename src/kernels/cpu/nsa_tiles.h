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

// s[r·kKeyTile + j] = a · Σ_d x_r[d] · xt[d·ldt + j], j < W, for 4 rows: a 4 × W register
// tile over a transposed key span (row stride ldt).
template <int64_t W, int64_t kD>
[[gnu::always_inline]] inline void scores4(const float* const x[kRows], const float* xt,
                                           int64_t ldt, int64_t D_rt, float a, float* s) {
  const int64_t D = kD > 0 ? kD : D_rt;
  float a0[W] = {}, a1[W] = {}, a2[W] = {}, a3[W] = {};
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  for (int64_t d = 0; d < D; ++d) {
    const float c0 = x0[d], c1 = x1[d], c2 = x2[d], c3 = x3[d];
    const float* kr = xt + d * ldt;
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) {
      a0[j] += c0 * kr[j];
      a1[j] += c1 * kr[j];
      a2[j] += c2 * kr[j];
      a3[j] += c3 * kr[j];
    }
  }
#pragma omp simd
  for (int64_t j = 0; j < W; ++j) {
    s[j] = a * a0[j];
    s[kKeyTile + j] = a * a1[j];
    s[2 * kKeyTile + j] = a * a2[j];
    s[3 * kKeyTile + j] = a * a3[j];
  }
}

// y_r = alpha_r·y_r + Σ_{j ∈ [ja, jb)} P[r·kKeyTile + j] · x_j for 4 rows y_r (block_pv).
template <int64_t kD>
[[gnu::always_inline]] inline void pv4(const float* P, const float* x, int64_t ldx, int64_t ja,
                                       int64_t jb, int64_t D_rt, float* const y[kRows],
                                       const float alpha[kRows]) {
  const int64_t D = kD > 0 ? kD : D_rt;
  for (int64_t c0 = 0; c0 < D; c0 += kCols) {
    float* const yc[kRows] = {y[0] + c0, y[1] + c0, y[2] + c0, y[3] + c0};
    attention_detail::tile4(P + ja, 1, kKeyTile, x + ja * ldx + c0, ldx, jb - ja,
                            std::min(kCols, D - c0), yc, alpha);
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
      attention_detail::tile4(P + j, kKeyTile, 1, X + c0, D, n, std::min(kCols, D - c0), oc,
                              attention_detail::kOnes);
    }
}

}  // namespace tinyr2::kernels::cpu::nsa_tiles
