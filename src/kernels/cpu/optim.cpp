#include "kernels/cpu/optim.h"

#include <cmath>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 1 << 15;  // below this, the loops stay serial
}  // namespace

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  const float b1 = s.b1, b2 = s.b2, one_minus_b1 = s.one_minus_b1, one_minus_b2 = s.one_minus_b2;
  const float eps = s.eps, decay = s.decay, step_size = s.step_size, bc2_sqrt = s.bc2_sqrt;
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + one_minus_b1 * g[i];
    v[i] = b2 * v[i] + one_minus_b2 * g[i] * g[i];
    p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

void muon_momentum(const float* g, float* m, float* u, int64_t n, float beta,
                   float one_minus_beta) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    m[i] = beta * m[i] + one_minus_beta * g[i];
    u[i] = one_minus_beta * g[i] + beta * m[i];
  }
}

void scaled_update(float* p, const float* u, int64_t n, float decay, float alpha) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] * decay - alpha * u[i];
}

void scale_in_place(float* x, int64_t n, float s) {
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace tinyr2::kernels::cpu
