// Mamba-1 selective scan (SPEC §10 "Mamba") with the softplus of Δ, A = −exp(A_log) and
// the D skip fused in. Shapes: u, dt, y (B, T, d) (u = xc, dt = dt_proj δ before its bias),
// dt_bias, D (d), A_log (d, N), Bm, Cm (B, T, N):
//
//   Δ_t[c] = softplus(dt_t[c] + dt_bias[c]),  A[c,n] = −exp(A_log[c,n])
//   h_t[c,n] = exp(Δ_t[c]·A[c,n])·h_{t−1}[c,n] + Δ_t[c]·u_t[c]·Bm_t[n],   h_{−1} = state or 0
//   y_t[c]   = Σ_n h_t[c,n]·Cm_t[n] + D[c]·u_t[c]
//
// Work O(T·d·N); parallel over (batch, block of kScanChannels channels), each item serial
// over t and vectorised over its channels (softplus, exp and sigmoid in branch-free float
// arithmetic). The backward never keeps a T×d×N tensor: per block it reruns the scan keeping
// h only at the start of every kScanChunk positions (the chunk checkpoints), then walks the
// chunks last to first, recomputing each chunk's h_t, exp(Δ_t A) and Δ_t from its checkpoint
// once, with dh_t = dy_t·Cm_t + exp(Δ_{t+1}A)·dh_{t+1}:
//   dCm_t[n] = Σ_c dy_t[c] h_t[c,n]            dBm_t[n] = Σ_c dh_t[c,n] Δ_t[c] u_t[c]
//   du_t[c]  = D[c] dy_t[c] + Σ_n dh_t Δ_t Bm_t[n]
//   dΔ_t[c]  = Σ_n dh_t (h_{t−1} a A + u_t Bm_t[n]) with a = exp(Δ_t A)
//   ddt = dΔ·σ(dt + dt_bias) (also into dt_bias),  dA_log = Σ_t dh_t h_{t−1} a Δ_t · A
//   dD[c] = Σ_t dy_t[c] u_t[c]
// dBm and dCm sum over channels: each block writes its own partial sums (over its 64 lanes
// in one fixed tree order), added in block order afterwards, so the result does not depend
// on the thread count. All gradients accumulate.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

inline constexpr int64_t kScanChannels = 64;
inline constexpr int64_t kScanChunk = 64;

// state: null (h_{−1} = 0) or (B, d, N) read as h_{−1} and overwritten with h_{T−1}.
void selective_scan_forward(const float* u, const float* dt, const float* dt_bias,
                            const float* A_log, const float* Bm, const float* Cm, const float* D,
                            float* y, float* state, int64_t B, int64_t T, int64_t d, int64_t N);
// Zero initial state; every gradient buffer is required (accumulated into).
void selective_scan_backward(const float* u, const float* dt, const float* dt_bias,
                             const float* A_log, const float* Bm, const float* Cm, const float* D,
                             const float* gy, float* du, float* ddt, float* ddt_bias, float* dA_log,
                             float* dBm, float* dCm, float* dD, int64_t B, int64_t T, int64_t d,
                             int64_t N);

}  // namespace tinyr2::kernels::cpu
