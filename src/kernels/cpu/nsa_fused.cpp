#include "kernels/cpu/nsa_fused.h"

#include <algorithm>

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 1 << 15;  // elements below which a loop runs on one thread

// Rotates the tail pairs of one head slice: forward (kBack false) or the transposed
// rotation (kBack true), from x into y (both the slice's tail, rope_dim entries).
template <bool kBack>
inline void rotate_tail(const float* x, const float* cs, const float* sn, int64_t half, float* y) {
#pragma omp simd
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[i], s = kBack ? -sn[i] : sn[i];
    const float a = x[i], b = x[i + half];
    y[i] = a * c - b * s;
    y[i + half] = a * s + b * c;
  }
}

// Copies the block between the stacked matrix (row stride N, block at column col) and the
// output (row stride width), rotating every head's tail. kIn: output → stacked, transposed
// rotation.
template <bool kIn>
void copy_block(const float* src, float* dst, int64_t M, int64_t N, const ColumnBlock& blk,
                const float* cos_tab, const float* sin_tab, int64_t T) {
  const int64_t W = blk.width, half = blk.rope_dim / 2;
  const int64_t D = blk.heads > 0 ? W / blk.heads : W;
#pragma omp parallel for schedule(static) if (M * W > kParallelWork)
  for (int64_t m = 0; m < M; ++m) {
    const float* s = kIn ? src + m * W : src + m * N + blk.col;
    float* d = kIn ? dst + m * N + blk.col : dst + m * W;
    if (blk.heads == 0 || half == 0) {
      std::copy(s, s + W, d);
      continue;
    }
    const float* cs = cos_tab + (m % T) * half;
    const float* sn = sin_tab + (m % T) * half;
    for (int64_t h = 0; h < blk.heads; ++h) {
      const float* sh = s + h * D;
      float* dh = d + h * D;
      std::copy(sh, sh + D - blk.rope_dim, dh);
      rotate_tail<kIn>(sh + D - blk.rope_dim, cs, sn, half, dh + D - blk.rope_dim);
    }
  }
}

}  // namespace

void copy_out_columns(const float* y, int64_t M, int64_t N, const ColumnBlock& block,
                      const float* cos_tab, const float* sin_tab, int64_t T, float* out) {
  copy_block<false>(y, out, M, N, block, cos_tab, sin_tab, T);
}

void copy_in_columns(const float* g, int64_t M, int64_t N, const ColumnBlock& block,
                     const float* cos_tab, const float* sin_tab, int64_t T, float* dy) {
  copy_block<true>(g, dy, M, N, block, cos_tab, sin_tab, T);
}

void gated_sum_forward(const float* const* outs, const float* gates, float* y, int64_t M, int64_t H,
                       int64_t Dv, int64_t G, int64_t n) {
#pragma omp parallel for schedule(static) if (M * H * Dv * n > kParallelWork)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t h = 0; h < H; ++h) {
      const float* g = gates + (m * G + (G > 1 ? h : 0)) * n;
      float* yr = y + (m * H + h) * Dv;
      const int64_t off = (m * H + h) * Dv;
      const float* o0 = outs[0] + off;
      const float g0 = g[0];
#pragma omp simd
      for (int64_t d = 0; d < Dv; ++d) yr[d] = g0 * o0[d];
      for (int64_t c = 1; c < n; ++c) {
        const float* oc = outs[c] + off;
        const float gc = g[c];
#pragma omp simd
        for (int64_t d = 0; d < Dv; ++d) yr[d] += gc * oc[d];
      }
    }
}

void gated_sum_backward(const float* const* outs, const float* gates, const float* dy,
                        float* const* douts, float* dgates, int64_t M, int64_t H, int64_t Dv,
                        int64_t G, int64_t n) {
#pragma omp parallel for schedule(static) if (M * H * Dv * n > kParallelWork)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t grow = m * G + (G > 1 ? h : 0);
      const float* g = gates + grow * n;
      const int64_t off = (m * H + h) * Dv;
      const float* dyr = dy + off;
      for (int64_t c = 0; c < n; ++c) {
        if (douts[c]) {
          float* d = douts[c] + off;
          const float gc = g[c];
#pragma omp simd
          for (int64_t i = 0; i < Dv; ++i) d[i] += gc * dyr[i];
        }
        if (dgates) {
          const float* oc = outs[c] + off;
          float acc = 0.f;
#pragma omp simd reduction(+ : acc)
          for (int64_t i = 0; i < Dv; ++i) acc += oc[i] * dyr[i];
          dgates[grow * n + c] += acc;  // rows of one token: this iteration owns them
        }
      }
    }
}

}  // namespace tinyr2::kernels::cpu
