#include "kernels/cpu/rope.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 32768;

// Rotates every pair (a, b) = (x[..., i], x[..., i + D/2]) of every (b, t, h) row by the
// angle of position t: y = R·x (forward), or y += Rᵀ·x when kTranspose (backward: Rᵀ is the
// rotation by the negated angle, i.e. sin → −sin), with
//   R·(a, b) = (a·cos − b·sin,  a·sin + b·cos).
template <bool kTranspose>
void rotate_halves(const float* x, const float* cos_tab, const float* sin_tab, float* y, int64_t B,
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
          const float c = cs[i], s = kTranspose ? -sn[i] : sn[i];
          const float ra = xa[i] * c - xb[i] * s, rb = xa[i] * s + xb[i] * c;
          if constexpr (kTranspose) {
            ya[i] += ra;
            yb[i] += rb;
          } else {
            ya[i] = ra;
            yb[i] = rb;
          }
        }
      }
    }
}

}  // namespace

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
  rotate_halves<false>(x, cos_tab, sin_tab, y, B, T, H, D);
}

void rope_backward(const float* g, const float* cos_tab, const float* sin_tab, float* dx, int64_t B,
                   int64_t T, int64_t H, int64_t D) {
  rotate_halves<true>(g, cos_tab, sin_tab, dx, B, T, H, D);
}

}  // namespace tinyr2::kernels::cpu
