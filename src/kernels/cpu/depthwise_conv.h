// Depthwise causal 1-D convolution (Mamba's conv1d, SPEC §10): x, y (B, T, d), w (d, K)
// (PyTorch's (d, 1, K) weight), bias (d):
//
//   y_t[c] = bias[c] + Σ_{j<K} w[c,j] · x_{t−K+1+j}[c]      (x before position 0 is 0)
//
// Backward (accumulated): dx_s[c] += Σ_j w[c,j] dy_{s+K−1−j}[c] (t < T),
// dw[c,j] += Σ_{b,t} dy_t[c] x_{t−K+1+j}[c], dbias[c] += Σ_{b,t} dy_t[c].
// Parallel over batches (forward, dx) and over channel blocks (dw, dbias: each channel's
// sums in one fixed order).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void depthwise_conv1d_forward(const float* x, const float* w, const float* bias, float* y,
                              int64_t B, int64_t T, int64_t d, int64_t K);
void depthwise_conv1d_backward(const float* x, const float* w, const float* gy, float* dx,
                               float* dw, float* dbias, int64_t B, int64_t T, int64_t d, int64_t K);

}  // namespace tinyr2::kernels::cpu
