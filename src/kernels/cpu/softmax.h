// Softmax and log-softmax over the last dimension of a (R, C) row-major matrix, plus the
// row helpers the fused cross-entropy shares. Their exp is fast_exp (fast_math.h).
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

namespace tinyr2::kernels::cpu {

void softmax_forward(const float* x, float* y, int64_t R, int64_t C);
void softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C);

void log_softmax_forward(const float* x, float* y, int64_t R, int64_t C);
void log_softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C);

// Row helpers shared with the fused cross-entropies: the max of x[0..n), and
// Σ exp(x[i] − m) accumulated in float blocks summed in double (accurate for n ~ 10⁵);
// row_exp also writes y[i] = exp(x[i] − m) (y may be x).
float row_max(const float* x, int64_t n);
double row_sum_exp(const float* x, int64_t n, float m);
double row_exp(const float* x, float* y, int64_t n, float m);

}  // namespace tinyr2::kernels::cpu
