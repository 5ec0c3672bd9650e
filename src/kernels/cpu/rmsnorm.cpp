#include "kernels/cpu/rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;
constexpr int64_t kChunkRows = 32;  // rows per dw partial sum (fixes the summation order)
}  // namespace

void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t R, int64_t C,
                     float eps) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float ss = 0.f;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ss) / C + eps));
    rstd[r] = s;
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * s * w[c];
  }
}

// dx row by row; dw = Σ_r g_r ∘ x_r · rstd_r summed in fixed chunks of kChunkRows rows (one
// partial row per chunk, added in chunk order at the end), so the result does not depend on
// the thread count and every chunk is an independent work item.
void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* g, float* dx,
                      float* dw, int64_t R, int64_t C) {
  const int64_t chunks = (R + kChunkRows - 1) / kChunkRows;
  std::vector<float> partial(dw ? static_cast<size_t>(chunks * C) : 0, 0.f);
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t k = 0; k < chunks; ++k) {
    float* acc = dw ? partial.data() + k * C : nullptr;
    for (int64_t r = k * kChunkRows; r < std::min(R, (k + 1) * kChunkRows); ++r) {
      const float* xr = x + r * C;
      const float* gr = g + r * C;
      const float s = rstd[r];
      if (dx) {
        float dot = 0.f;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < C; ++c) dot += w[c] * gr[c] * xr[c];
        const float kk = s * s * s * dot / static_cast<float>(C);
        float* dr = dx + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) dr[c] += s * w[c] * gr[c] - kk * xr[c];
      }
      if (acc) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) acc[c] += gr[c] * xr[c] * s;
      }
    }
  }
  if (!dw) return;
  for (int64_t k = 0; k < chunks; ++k) {
    const float* p = partial.data() + k * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dw[c] += p[c];
  }
}

}  // namespace tinyr2::kernels::cpu
