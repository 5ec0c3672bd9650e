// Fused RMSNorm over the last dimension of x (R, C) with a weight w (C) (SPEC §2):
//
//   rstd[r] = 1 / sqrt(mean_c x[r,c]² + eps)
//   y[r,c]  = x[r,c] · rstd[r] · w[c]
//
// Backward from the saved rstd, with g = dL/dy:
//   dx[r,c] += rstd[r] · (w[c] g[r,c] − x[r,c] · rstd[r]² · mean_c' w[c'] g[r,c'] x[r,c'])
//   dw[c]   += Σ_r g[r,c] · x[r,c] · rstd[r]
// dw is summed race-free and independently of the thread count: rows are taken in fixed
// chunks of 32, each chunk accumulates into its own (C) buffer, and the buffers are added in
// chunk order afterwards (SPEC §16). dx or dw may be null (no gradient wanted).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void rmsnorm_forward(const float* x, const float* w, float* y, float* rstd, int64_t R, int64_t C,
                     float eps);

void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* g, float* dx,
                      float* dw, int64_t R, int64_t C);

}  // namespace tinyr2::kernels::cpu
