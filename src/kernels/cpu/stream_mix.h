// Hyper-connection kernels (SPEC §2.5).
//
// stream_mix: out[n,t,:] = Σ_s M[s,t] · R[n,s,:]  for R (N,S,C), M (S,T) shared by all
// tokens (per_token = false) or M (N,S,T) per token. Mixing streams, reading a branch input
// from them (T = 1), writing a branch output into them (S = 1), expand and reduce are all
// this one product.
//
// sinkhorn / orthostochastic: the tiny (S,S) projections that turn H_res_logits into a
// (doubly) stochastic mixing matrix; computed in double, backward by unrolling the
// iterations in reverse.
#pragma once

#include <array>
#include <cstdint>

namespace tinyr2::kernels::cpu {

void stream_mix_forward(const float* R, const float* M, float* out, int64_t N, int64_t S, int64_t T,
                        int64_t C, bool per_token);
// dR += Σ_t M[s,t] g[n,t,:];  dM += Σ_c R[n,s,c] g[n,t,c] (summed over n when shared).
void stream_mix_backward(const float* R, const float* M, const float* g, float* dR, float* dM,
                         int64_t N, int64_t S, int64_t T, int64_t C, bool per_token);

// H = S · exp(Z + u + v), Z = logits / tau, after `iters` alternating row/column
// log-normalisations to log(1/S) (SPEC §2.5). Columns of H sum to 1.
void sinkhorn_forward(const float* logits, float* H, int64_t S, double tau, int64_t iters);
void sinkhorn_backward(const float* logits, const float* dH, float* dlogits, int64_t S, double tau,
                       int64_t iters);

// X = L / (‖L‖_F + eps); `steps` × { A = X Xᵀ; X = a X + (b A + c A²) X }; H = X ⊙ X.
void orthostochastic_forward(const float* L, float* H, int64_t S, int64_t steps, double eps,
                             const std::array<double, 3>& coeffs);
void orthostochastic_backward(const float* L, const float* dH, float* dL, int64_t S, int64_t steps,
                              double eps, const std::array<double, 3>& coeffs);

}  // namespace tinyr2::kernels::cpu
