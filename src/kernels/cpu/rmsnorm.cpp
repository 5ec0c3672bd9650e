#include "kernels/cpu/rmsnorm.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;
}

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

void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* g, float* dx,
                      float* dw, int64_t R, int64_t C) {
  const bool par = R * C > kParallelWork;
  const int nt = par ? omp_get_max_threads() : 1;
  // One private dw buffer per thread (none when dw is not wanted).
  std::vector<float> partial(dw ? static_cast<size_t>(nt) * C : 0, 0.f);
#pragma omp parallel num_threads(nt) if (par)
  {
    float* acc = dw ? partial.data() + static_cast<size_t>(omp_get_thread_num()) * C : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
      const float* xr = x + r * C;
      const float* gr = g + r * C;
      const float s = rstd[r];
      if (dx) {
        float dot = 0.f;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < C; ++c) dot += w[c] * gr[c] * xr[c];
        const float k = s * s * s * dot / static_cast<float>(C);
        float* dr = dx + r * C;
        for (int64_t c = 0; c < C; ++c) dr[c] += s * w[c] * gr[c] - k * xr[c];
      }
      if (acc)
        for (int64_t c = 0; c < C; ++c) acc[c] += gr[c] * xr[c] * s;
    }
  }
  if (!dw) return;
  for (int t = 0; t < nt; ++t) {
    const float* p = partial.data() + static_cast<size_t>(t) * C;
    for (int64_t c = 0; c < C; ++c) dw[c] += p[c];
  }
}

}  // namespace tinyr2::kernels::cpu
