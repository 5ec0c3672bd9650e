// Yuan 2.0-M32's attention router (SPEC §11), fused: per token n, over its E expert scores
//   s_ij = q_i k_j,   a_ij = softmax_j(s_ij),   z_i = Σ_j a_ij v_j       (i, j < E)
// where q, k, v are the column blocks of one row-major (N, 3E) matrix qkv (row n is
// [q ‖ k ‖ v], the product of x with the stacked router.{q,k,v} weights).
//
// Nothing of the E×E block is kept: backward recomputes a row of it (E exponentials) and
// runs, from dz,
//   dv_j += Σ_i a_ij dz_i
//   ds_ij = a_ij dz_i (v_j − z_i)     (the softmax's backward: da_ij = dz_i v_j and
//                                      Σ_j a_ij da_ij = dz_i z_i)
//   dq_i += Σ_j ds_ij k_j,   dk_j += Σ_i ds_ij q_i
// accumulated (+=) into dqkv (N, 3E). Tokens are independent and each runs its own fixed order
// of arithmetic, so the results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void router_attention_forward(const float* qkv, float* z, int64_t N, int64_t E);
void router_attention_backward(const float* qkv, const float* dz, float* dqkv, int64_t N,
                               int64_t E);

}  // namespace tinyr2::kernels::cpu
