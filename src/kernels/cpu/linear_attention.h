// Causal linear attention (SPEC §10 "Linear", Katharopoulos et al. 2020), chunked: never a
// T×T tensor. q, k, v, o are (B, T, H, D) row-major; per (b, h):
//
//   φ(u) = elu(u) + 1 = u + 1 (u > 0), exp(u) (u ≤ 0);   φ'(u) = 1 (u > 0), exp(u) (u ≤ 0)
//   num_t = Σ_{u≤t} (φ(q_t)·φ(k_u)) v_u = φ(q_t)ᵀ S_t,   S_t = Σ_{u≤t} φ(k_u) v_uᵀ  (D×D)
//   den_t = Σ_{u≤t}  φ(q_t)·φ(k_u) + eps = φ(q_t)·z_t + eps,  z_t = Σ_{u≤t} φ(k_u),  eps 1e-6
//   o_t   = num_t / den_t
//
// Chunks of `chunk` positions: inside a chunk the masked products φ(q)φ(k)ᵀ (chunk × chunk),
// across chunks the running state (S, z) — O(T·(chunk + D)·D) work and O(chunk² + D²)
// scratch per (b, h). The (b, h) pairs run in parallel, each in a fixed order, so the result
// does not depend on the thread count's scheduling (bit-identical for a given thread count
// and, since no reduction crosses pairs, for any).
//
// Backward, with a_tu = φ(q_t)·φ(k_u), g = dL/do:
//   dnum_t = g_t / den_t,   dden_t = −(g_t·o_t) / den_t,   da_tu = dnum_t·v_u + dden_t
//   dφq_t = Σ_{u≤t} da_tu φ(k_u)  = S_tᵀ… (forward pass, state S, z)
//   dφk_u = Σ_{t≥u} da_tu φ(q_t),  dv_u = Σ_{t≥u} a_tu dnum_t   (reverse pass, states
//           R = Σ_{t≥u} φ(q_t) dnum_tᵀ (D×D) and r = Σ_{t≥u} φ(q_t) dden_t (D))
//   dq = dφq ⊙ φ'(q), dk = dφk ⊙ φ'(k); accumulated (+=) into dq, dk, dv (each may be null).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// o (B,T,H,D) and, when den is not null, den (B,T,H) for the backward. S (B,H,D,D) and
// z (B,H,D), when not null, are the decode state: read as the state before position 0 of
// this call and overwritten with the state after its last position (S[d,e] pairs φ(k)[d]
// with v[e]); null starts from zero.
void linear_attention_forward(const float* q, const float* k, const float* v, float* o, float* den,
                              float* S, float* z, int64_t B, int64_t T, int64_t H, int64_t D,
                              int64_t chunk);

// Gradients of a forward from the zero state, o and den from it, dout = dL/do.
void linear_attention_backward(const float* q, const float* k, const float* v, const float* o,
                               const float* den, const float* dout, float* dq, float* dk, float* dv,
                               int64_t B, int64_t T, int64_t H, int64_t D, int64_t chunk);

}  // namespace tinyr2::kernels::cpu
