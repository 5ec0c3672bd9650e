#include "kernels/cpu/router_attention.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 32768;  // E·E·N below which the loops stay serial

// Row i of one token's attention: e[j] = exp(q_i k_j − max_j q_i k_j), returns 1 / Σ_j e[j].
// The max is q_i · max(k) for q_i ≥ 0, else q_i · min(k) (rounding is monotone, so this is
// the exact maximum of the rounded products).
inline float attention_row(float qi, const float* k, float kmax, float kmin, float* e, int64_t E) {
  const float m = qi >= 0.f ? qi * kmax : qi * kmin;
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < E; ++j) {
    e[j] = fast_exp(qi * k[j] - m);
    sum += e[j];
  }
  return 1.f / sum;
}

inline void min_max(const float* k, int64_t E, float& kmin, float& kmax) {
  kmin = kmax = k[0];
  for (int64_t j = 1; j < E; ++j) {
    kmin = std::min(kmin, k[j]);
    kmax = std::max(kmax, k[j]);
  }
}

}  // namespace

void router_attention_forward(const float* qkv, float* z, int64_t N, int64_t E) {
#pragma omp parallel if (N * E * E > kParallelWork)
  {
    std::vector<float> e(static_cast<size_t>(E));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* q = qkv + n * 3 * E;
      const float* k = q + E;
      const float* v = k + E;
      float kmin, kmax;
      min_max(k, E, kmin, kmax);
      for (int64_t i = 0; i < E; ++i) {
        const float inv = attention_row(q[i], k, kmax, kmin, e.data(), E);
        float zi = 0.f;
#pragma omp simd reduction(+ : zi)
        for (int64_t j = 0; j < E; ++j) zi += e[j] * v[j];
        z[n * E + i] = zi * inv;
      }
    }
  }
}

void router_attention_backward(const float* qkv, const float* dz, float* dqkv, int64_t N,
                               int64_t E) {
#pragma omp parallel if (N * E * E > kParallelWork)
  {
    // e: a row of exponentials, then ds_i·; dk, dv: this token's sums over i.
    std::vector<float> buf(static_cast<size_t>(3 * E));
    float* e = buf.data();
    float* dk = e + E;
    float* dv = dk + E;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* q = qkv + n * 3 * E;
      const float* k = q + E;
      const float* v = k + E;
      float* dq_out = dqkv + n * 3 * E;
      float kmin, kmax;
      min_max(k, E, kmin, kmax);
      std::fill(dk, dk + 2 * E, 0.f);
      for (int64_t i = 0; i < E; ++i) {
        const float inv = attention_row(q[i], k, kmax, kmin, e, E);
        float zi = 0.f;
#pragma omp simd reduction(+ : zi)
        for (int64_t j = 0; j < E; ++j) {
          e[j] *= inv;  // a_ij
          zi += e[j] * v[j];
        }
        const float g = dz[n * E + i], qi = q[i];
        float dqi = 0.f;
#pragma omp simd reduction(+ : dqi)
        for (int64_t j = 0; j < E; ++j) {
          const float ag = e[j] * g;
          dv[j] += ag;
          const float ds = ag * (v[j] - zi);
          dqi += ds * k[j];
          dk[j] += ds * qi;
        }
        dq_out[i] += dqi;
      }
      for (int64_t j = 0; j < E; ++j) {
        dq_out[E + j] += dk[j];
        dq_out[2 * E + j] += dv[j];
      }
    }
  }
}

}  // namespace tinyr2::kernels::cpu
