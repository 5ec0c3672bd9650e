#include "kernels/cpu/rope.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;
}

void rope_table(const int32_t* pos, int64_t T, int64_t D, float theta, float* cos_tab,
                float* sin_tab) {
  const int64_t half = D / 2;
  std::vector<double> freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    freq[i] = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / D);
  // The angle is formed and reduced to [−π, π] in double (error < 1e-6 rad even near
  // position 2³¹); float sin/cos of the reduced angle are then accurate to rounding.
  const double two_pi = 6.283185307179586476925;
#pragma omp parallel for schedule(static) if (T * half > kParallelWork / 8)
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos[t] * freq[i];
      const float r = static_cast<float>(angle - two_pi * std::nearbyint(angle / two_pi));
      cos_tab[t * half + i] = std::cos(r);
      sin_tab[t * half + i] = std::sin(r);
    }
  }
}

void rope_forward(const float* x, const float* cos_tab, const float* sin_tab, float* y, int64_t B,
                  int64_t T, int64_t H, int64_t D) {
  const int64_t half = D / 2;
#pragma omp parallel for collapse(2) schedule(static) if (B * T * H * D > kParallelWork)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* cs = cos_tab + t * half;
      const float* sn = sin_tab + t * half;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = ((b * T + t) * H + h) * D;
        const float* xa = x + o;
        const float* xb = xa + half;
        float* ya = y + o;
        float* yb = ya + half;
        for (int64_t i = 0; i < half; ++i) {
          ya[i] = xa[i] * cs[i] - xb[i] * sn[i];
          yb[i] = xa[i] * sn[i] + xb[i] * cs[i];
        }
      }
    }
}

void rope_backward(const float* g, const float* cos_tab, const float* sin_tab, float* dx, int64_t B,
                   int64_t T, int64_t H, int64_t D) {
  const int64_t half = D / 2;
#pragma omp parallel for collapse(2) schedule(static) if (B * T * H * D > kParallelWork)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* cs = cos_tab + t * half;
      const float* sn = sin_tab + t * half;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = ((b * T + t) * H + h) * D;
        const float* ga = g + o;
        const float* gb = ga + half;
        float* da = dx + o;
        float* db = da + half;
        for (int64_t i = 0; i < half; ++i) {
          da[i] += ga[i] * cs[i] + gb[i] * sn[i];
          db[i] += gb[i] * cs[i] - ga[i] * sn[i];
        }
      }
    }
}

}  // namespace tinyr2::kernels::cpu
