// Sliding-window attention of NSA's branch 3 (SPEC §2.3) over a whole sequence: query t sees
// the keys t − w < u ≤ t (u ≥ 0) of its own batch row and head.
//
// Layout: q (B,T,H,Dk), k (B,T,H,Dk), v (B,T,H,Dv), o (B,T,H,Dv), lse (B,T,H); row-major,
// heads inside a token's row. The mathematics are range attention's (kernels/cpu/
// attention.h) with lo = max(0, t − w + 1), hi = t + 1:
//
//   forward   s_u = scale · q_t·k_u          lse_t = log Σ_u exp(s_u)
//             p_u = exp(s_u − lse_t)         o_t   = Σ_u p_u v_u
//   backward  D_t  = dO_t·o_t                dP_u  = dO_t·v_u          dS_u = p_u (dP_u − D_t)
//             dq_t += scale Σ_u dS_u k_u     dk_u += scale Σ_t dS_u q_t
//             dv_u += Σ_t p_u dO_t
//
// How it runs. Flash attention (online softmax forward, p recomputed from lse backward)
// over score tiles of 4 queries × 32 keys, but the key tiles are anchored at each 4-query
// group rather than at multiples of 32: a group's w + 3 keys are ⌊(w+3)/32⌋ tiles of 32
// ending at its last query plus one narrow tile of 16 (or 32) for the rest, so a window of
// 128 computes 144 scores per query instead of the 160 of 5 aligned tiles. That needs the
// keys transposed once per work item (the item's whole key span, not per tile), and the
// backward accumulates dK and dV transposed in the same span layout (dKᵀ += Qᵀ·dS per
// group, each dKᵀ load shared by four queries), added back into dk, dv at the end of the
// item. Specialised at compile time for Dk 96 / Dv 32 (the default widths).
//
// Parallel work: forward items (b, h, tile of 64 queries), each writing its own rows.
// Backward items (b, h, chunk of C ≥ w queries): a chunk writes the dq rows of its queries
// and adds into the dk, dv rows of the keys [c0 − w + 1, c1) its queries see — chunk c's
// keys overlap only chunks c − 1 and c + 1, so the even chunks run in parallel, then the odd
// ones: every key's gradient is summed in the same order whatever the thread count (results
// are bit-identical across thread counts), with no atomics. Backward kernels accumulate
// (+=); a null gradient pointer skips that gradient.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// window ≥ 1 (a window ≥ T is plain causal attention). lse may be null. scores, when not
// null, (B,T,H,L) with L = nsa_window_score_columns(window, T) (kernels/nsa_params.h): the
// forward keeps there the scaled scores s_u of each query against its group's key tiles, tile
// i at columns [32·i, 32·i + width), and the backward reads them instead of recomputing
// q_t·k_u (the same bits: the same products summed in the same order), which saves a quarter
// of the backward's multiply-adds. Null in both: recomputed.
void window_attention_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                              float* scores, int64_t B, int64_t T, int64_t H, int64_t Dk,
                              int64_t Dv, int64_t window, float scale);

void window_attention_backward(const float* q, const float* k, const float* v, const float* o,
                               const float* lse, const float* scores, const float* dout, float* dq,
                               float* dk, float* dv, int64_t B, int64_t T, int64_t H, int64_t Dk,
                               int64_t Dv, int64_t window, float scale);

}  // namespace tinyr2::kernels::cpu
