// Differentiable attention primitives (SPEC §2.1, §2.3); kernels in kernels/cpu/attention
// and kernels/cpu/index_attention (formulas there).
//
// Layout: q (B,Tq,H,Dk), k (B,Tk,H,Dk), v (B,Tk,H,Dv) → output (B,Tq,H,Dv); Dk may differ
// from Dv. `scale` multiplies the scores (usually 1/sqrt(Dk)). A query that sees no key
// gets an output row of exactly 0 and passes no gradient.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/tape.h"
#include "core/index_tensor.h"

namespace tinyr2::ops {

// Query t (of every batch and head) attends to the keys j ∈ [lo[t], hi[t]); lo and hi have
// Tq entries with 0 ≤ lo[t] ≤ hi[t] ≤ Tk (lo == hi: empty). When lse is given it receives
// the log-sum-exp of the scaled scores, (B,Tq,H), −inf for an empty range; it is a plain
// tensor (no gradient flows through it). NSA's compression branch is lo = 0, hi[t] = the
// number of blocks visible to t, and its lse gives the branch probabilities
// p_i = exp(scale·q·k_i − lse) that the selection branch scores blocks with.
Tensor range_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       const std::vector<int32_t>& lo, const std::vector<int32_t>& hi,
                       Tensor* lse = nullptr);

// Causal (optionally sliding-window) attention. Query t is at absolute position q_offset + t
// (q_offset > 0 when decoding against a KV cache with Tk > Tq); the keys are at positions
// 0 … Tk−1. Key j is visible iff j ≤ q_offset + t and (window == 0 or j > q_offset + t −
// window). FULL attention is window = 0 (SPEC §2.1), NSA's sliding window is window = w.
Tensor causal_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                        int64_t window = 0, int64_t q_offset = 0);

// The ranges causal_attention uses: lo/hi for Tq queries at positions q_offset + t over Tk keys.
void causal_ranges(int64_t Tq, int64_t Tk, int64_t window, int64_t q_offset,
                   std::vector<int32_t>& lo, std::vector<int32_t>& hi);

// Query (b,t) of every head attends to the keys idx[b,t,0..n) of batch b; idx is (B,Tq,n)
// int32 with −1 as padding (skipped) and 0 ≤ idx < Tk otherwise. Duplicates are not
// expected (each would count as one more key). No gradient flows through idx. This is NSA's
// selection branch (the same key set for all heads of a token).
Tensor index_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                       const IndexTensor& idx, float scale);

}  // namespace tinyr2::ops
