// DSMoE routing kernels (SPEC §2.4).
//
// route_weights: for token n with chosen routed experts idx[n,0..K-1] (K = num_exp − 1),
//   ĝ[n,k] = p[n, idx[n,k]] / Σ_k' p[n, idx[n,k']]   (normalize, K ≥ 2)
//   ĝ[n,k] = p[n, idx[n,k]]                          (K = 1)
//   Without `normalize` a slot with idx −1 (SPEC §11 expert choice: no expert) gets ĝ = 0;
//   with it every idx entry must be an expert.
// balance_loss: with router weights R[n, idx[n,k]] = c · ĝ[n,k] (c = (k−1)/k, the shared
//   column left out), col_e = Σ_n R[n,e], load_e = col_e / Σ_e' col_e',
//   L_bal = E · Σ_e (load_e − 1/E)²  over the E routed experts.
// update_bias: the auxiliary-loss-free balancing of the routed experts' bias after a step,
//   from each expert's token count c_e:  b_e += rate · sign(mean_e' c_e' − c_e)
//   (mean in double; an expert that got fewer tokens than average is raised).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void moe_route_weights_forward(const float* p, const int32_t* idx, float* w, int64_t N, int64_t E,
                               int64_t K, bool normalize);
void moe_route_weights_backward(const float* p, const int32_t* idx, const float* dw, float* dp,
                                int64_t N, int64_t E, int64_t K, bool normalize);

float moe_balance_loss_forward(const float* w, const int32_t* idx, int64_t N, int64_t E, int64_t K,
                               float c);
void moe_balance_loss_backward(const float* w, const int32_t* idx, float dloss, float* dw,
                               int64_t N, int64_t E, int64_t K, float c);

// bias (E), counts (E); E ≥ 1. Serial (E is the number of experts).
void moe_update_bias(float* bias, const int64_t* counts, int64_t E, float rate);

}  // namespace tinyr2::kernels::cpu
