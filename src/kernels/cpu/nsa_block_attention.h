// Block attention: softmax attention where query t sees the tokens of a few chosen key
// blocks (NSA's selection branch, SPEC §2.3 branch 2: the n blocks of l′ tokens chosen for t,
// the same blocks for every head).
//
// Layout: q (B,Tq,H,Dk), k (B,Tk,H,Dk), v (B,Tk,H,Dv), o (B,Tq,H,Dv), lse (B,Tq,H), blocks
// (B,Tq,n) int32; row-major, heads inside a token's row. Query t is at absolute position
// pos = q_offset + t; block j covers the keys [j·bs, (j+1)·bs). Query (b,t) of every head
// sees the keys
//
//   J(b,t) = { u : u ∈ [j·bs, (j+1)·bs) for some j = blocks[b,t,i] ≥ 0,  u ≤ pos,  u < Tk }
//
// (−1 entries are padding; a block listed twice counts once; keys after the query are
// never seen, so a partly future block contributes only its past tokens), and
//
//   forward   s_u = scale · q_t·k_u          lse_t = log Σ_{u∈J} exp(s_u)
//             p_u = exp(s_u − lse_t)         o_t   = Σ_{u∈J} p_u v_u
//   backward  D_t  = dO_t·o_t                dP_u  = dO_t·v_u          dS_u = p_u (dP_u − D_t)
//             dq_t += scale Σ_u dS_u k_u     dk_u += scale Σ_t dS_u q_t
//             dv_u += Σ_t p_u dO_t
//
// An empty J gives o_t = 0, lse_t = −inf, and no gradient. No gradient flows to blocks.
//
// How it runs. The keys of a block are contiguous, so this is the range kernel's tiled
// flash attention (kernels/cpu/attention.cpp, whose 4-query × 32-key register tiles it
// shares) over 32-key tiles, with a per-query bit mask of the keys it sees in a tile instead
// of a range. A work unit is a tile of kQueryTile queries: the union of the key tiles its
// queries' blocks touch is visited once, each key tile transposed once and scored against
// the queries 4 at a time. The queries are first ordered by their block sets, so the four
// rows of a score tile usually want the same keys (NSA forces the first and the local
// blocks, shared by neighbouring queries) and little of a tile is computed to be masked.
// Forward: work items (b, h, query tile). Backward (flash-attention 2, recomputing p from
// lse): work items (b, h), each owning dq, dk and dv of its head outright — no atomics;
// for each key tile, the active 4-query groups' P and dS rows are buffered, then
// dV += Pᵀ·dO and dK += dSᵀ·Q run as one register-tiled product. With fewer (b, h) pairs
// than threads, each head's query tiles are split into G = ⌈threads / (B·H)⌉ contiguous
// parts (fewer if their copies would pass 16 Mi floats): an item (b, h, part) writes its dq
// rows and its dk, dv into a private zeroed copy of the head's rows, summed into dk, dv part
// by part afterwards — deterministic for a given thread count, no atomics. Backward kernels
// accumulate (+=); a null gradient pointer skips that gradient.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void block_attention_forward(const float* q, const float* k, const float* v, const int32_t* blocks,
                             float* o, float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                             int64_t Dk, int64_t Dv, int64_t n, int64_t block_size,
                             int64_t q_offset, float scale);

void block_attention_backward(const float* q, const float* k, const float* v, const int32_t* blocks,
                              const float* o, const float* lse, const float* dout, float* dq,
                              float* dk, float* dv, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                              int64_t Dk, int64_t Dv, int64_t n, int64_t block_size,
                              int64_t q_offset, float scale);

}  // namespace tinyr2::kernels::cpu
