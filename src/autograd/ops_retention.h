// The differentiable multi-scale retention op of the Retention layer (SPEC §10). Kernel,
// formulas and chunking in kernels/cpu/retention.h.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// q, k, v (B,T,H,D) → o (B,T,H,D), o_t = scale·Σ_{u≤t} γ_h^(t−u) (q_t·k_u) v_u with
// γ_h = 1 − 2^(−5−h), computed in chunks (no T×T tensor). `state`: undefined, or a
// (B,H,D,D) decode state S = Σ_u γ^(·) k_u v_uᵀ of the positions before these ones, advanced
// in place past them (decoding: no gradient flows through it or may be asked for).
Tensor retention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& state = Tensor());

}  // namespace tinyr2::ops
