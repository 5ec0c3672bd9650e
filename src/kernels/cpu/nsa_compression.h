// The forward of NSA's compression branch fused with the block selection of the selection
// branch (SPEC §2.3, branches 1 and 2).
//
// Layout: q (B,T,H,Dk), k (B,nb,H,Dk), v (B,nb,H,Dv) — the compressed keys and values —,
// o (B,T,H,Dv), lse (B,T,H), blocks (B,T,n). Query t is at position pos = q_pos0 + t and
// sees the compressed blocks i < vis(t) = nsa_visible_blocks(pos) (i·d + l − 1 ≤ pos):
//
//   attention  range attention (kernels/cpu/attention.h) with lo = 0, hi = vis(t):
//              s_i = scale·q_t·k_i,  lse_t = log Σ_{i<vis} exp(s_i),  o_t = Σ_i exp(s_i − lse_t)
//              v_i (o_t = 0 and lse_t = −inf when vis(t) = 0)
//   selection  with p_h[i] = exp(s_i − lse_t) of each head h, the scores and choice of
//              kernels/cpu/nsa_select.h (s[j] = Σ_h Σ_i w(i,j)·p_h[i], forced blocks, top-n)
//
// The gradient of o is range attention's backward with the same lo/hi (there is no other
// backward: lse and the selection carry no gradient): nsa_compression_backward below, which
// runs range_attention_backward (items (b, h), each owning its head's dq, dk, dv rows) as
// is when there are at least as many (b, h) pairs as threads, and otherwise on
// G = ⌈threads / B⌉ contiguous query parts per batch row at once (all heads of a part on one
// thread), each adding its dk, dv into a private zeroed copy of
// the nb compressed rows, summed part by part in order afterwards — deterministic for a
// given thread count (G depends on it), no atomics.
//
// Why fused: selection needs every p_h[i], i.e. the scores the attention computes anyway,
// but only after the head's lse is known. A work item is a tile of kCompressRows queries of
// one batch row with all heads: for each head, one pass over its visible key tiles (each
// transposed once, 4-query × 32-key register tiles, online softmax as in attention.cpp)
// produces o and lse and keeps the raw scores of the tile (rows × visible blocks); then
// exp(s − lse) is added into the per-query head sum, and after the last head the sums are
// spread over the selection blocks and the blocks are chosen. No score is computed twice.
// Later tiles see more blocks, so the items are handed out dynamically, largest first.
#pragma once

#include <cstdint>

#include "kernels/cpu/nsa_select.h"

namespace tinyr2::kernels::cpu {

// o may be null (lse and selection only: the selection branch without the compression
// branch); blocks may be null (no selection). k and v may be null when nb = 0.
void nsa_compression_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                             int32_t* blocks, int64_t B, int64_t T, int64_t nb, int64_t H,
                             int64_t Dk, int64_t Dv, float scale, const NsaSelectParams& p,
                             int64_t q_pos0 = 0);

// The backward of o above (accumulates; a null gradient pointer skips that gradient).
void nsa_compression_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* lse, const float* dout, float* dq, float* dk, float* dv,
                              int64_t B, int64_t T, int64_t nb, int64_t H, int64_t Dk, int64_t Dv,
                              float scale, const NsaSelectParams& p, int64_t q_pos0 = 0);

}  // namespace tinyr2::kernels::cpu
