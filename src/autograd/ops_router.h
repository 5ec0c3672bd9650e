// Yuan 2.0-M32's attention router as one op (SPEC §11); kernel in kernels/cpu/router_attention.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// qkv (N, 3E), row n = [q ‖ k ‖ v] of token n → z (N, E), z_i = Σ_j softmax_j(q_i k_j) v_j.
// Saves only qkv: backward recomputes each token's E×E attention.
Tensor router_attention(Tape& tape, const Tensor& qkv);

}  // namespace tinyr2::ops
