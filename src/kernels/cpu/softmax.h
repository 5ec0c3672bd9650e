// Softmax and log-softmax over the last dimension of a (R, C) row-major matrix, plus the
// vectorisable exp they (and the fused cross-entropy) are built on.
//
//   softmax:      y[r,c] = exp(x[r,c] − m_r) / Σ_c' exp(x[r,c'] − m_r),   m_r = max_c x[r,c]
//                 dx[r,c] += y[r,c] · (g[r,c] − Σ_c' g[r,c'] y[r,c'])
//   log_softmax:  y[r,c] = x[r,c] − lse_r,   lse_r = m_r + log Σ_c exp(x[r,c] − m_r)
//                 dx[r,c] += g[r,c] − exp(y[r,c]) · Σ_c' g[r,c']
//
// Both backward kernels read only the saved output y. A softmax row whose entries are all
// −inf (fully masked) gives zeros instead of NaN.
#pragma once

#include <cstdint>
#include <cstring>

namespace tinyr2::kernels::cpu {

// exp(x) for float, branch-free so that g++ vectorises loops that call it (glibc's expf is
// a scalar call without -ffast-math). Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2 (ln2
// split in two for exactness), e^r by a degree-7 polynomial, 2^n assembled in the exponent
// bits. Relative error ≈ 1 ulp over the normal range; returns 0 below −87.3 (where e^x is
// subnormal) and saturates at e^88 above.
inline float fast_expf(float x) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const float kRound = 12582912.f;  // 1.5·2²³: adding it rounds to the nearest integer
  const bool underflow = x < -87.33654f;
  x = x > 88.f ? 88.f : x;
  x = x < -87.33654f ? -87.33654f : x;
  const float t = x * kLog2e + kRound;  // n in the low mantissa bits of t
  const float n = t - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.f;
  int32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  const int32_t e = (bits - 0x4B400000 + 127) << 23;  // (n + 127) as the exponent field
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return underflow ? 0.f : p * scale;
}

void softmax_forward(const float* x, float* y, int64_t R, int64_t C);
void softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C);

void log_softmax_forward(const float* x, float* y, int64_t R, int64_t C);
void log_softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C);

// Row helpers shared with the fused cross-entropy: the max of x[0..n), and
// Σ exp(x[i] − m) accumulated in float blocks summed in double (accurate for n ~ 10⁵).
float row_max(const float* x, int64_t n);
double row_sum_exp(const float* x, int64_t n, float m);

}  // namespace tinyr2::kernels::cpu
