// Index attention: softmax attention where query t sees an explicit list of keys (the NSA
// selection branch, SPEC §2.3: the tokens of the blocks chosen for t, the same list for
// every head).
//
// Layout: q (B,Tq,H,Dk), k (B,Tk,H,Dk), v (B,Tk,H,Dv), o (B,Tq,H,Dv), lse (B,Tq,H), idx
// (B,Tq,n) int32; row-major. Query (b,t) of every head h sees the keys j ∈ J(b,t) =
// {idx[b,t,i] : idx[b,t,i] ≥ 0} of batch b (−1 is padding and is skipped):
//
//   forward   s_j = scale · q_t·k_j          lse_t = log Σ_{j∈J} exp(s_j)
//             p_j = exp(s_j − lse_t)         o_t   = Σ_{j∈J} p_j v_j
//   backward  D_t  = dO_t·o_t                dP_j  = dO_t·v_j          dS_j = p_j (dP_j − D_t)
//             dq_t += scale Σ_j dS_j k_j     dk_j += scale Σ_t dS_j q_t
//             dv_j += Σ_t p_j dO_t
//
// An empty list (all padding) gives o_t = 0, lse_t = −inf, and no gradient. Duplicate
// indices are not expected; if present, each entry counts as one more key (forward and
// backward agree: the key is weighted twice). No gradient flows to idx. Valid indices are
// 0 ≤ idx < Tk (the op checks). Backward kernels accumulate (+=); a null gradient pointer
// skips that gradient.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void index_attention_forward(const float* q, const float* k, const float* v, const int32_t* idx,
                             float* o, float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                             int64_t Dk, int64_t Dv, int64_t n, float scale);

void index_attention_backward(const float* q, const float* k, const float* v, const int32_t* idx,
                              const float* o, const float* lse, const float* dout, float* dq,
                              float* dk, float* dv, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                              int64_t Dk, int64_t Dv, int64_t n, float scale);

}  // namespace tinyr2::kernels::cpu
