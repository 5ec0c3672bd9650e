// NSA block selection (SPEC §2.3, branch 2), no gradient.
//
// For query t (of batch b):
//   p_h[i] = exp(q_{t,h}·k_{i,h}·scale − lse_{t,h})   branch-1 probabilities over the
//            compressed blocks i visible to t (i·d + l − 1 ≤ t), per head h
//   s[j]   = Σ_h Σ_i w(i,j) · p_h[i],  w(i,j) = |[i·d, i·d+l) ∩ [j·l′, (j+1)·l′)| / d
//   candidates: selection blocks j with j·l′ ≤ t; forced: the first `init_blocks` and the
//   `local_blocks` ending at t's own block; the rest filled by descending s (ties → lower j)
//   up to n blocks.
// Output of nsa_select_blocks: the chosen block indices j, ascending, padded with −1 to n
// per query (what block attention, kernels/cpu/nsa_block_attention, consumes); nsa_select
// expands them to the token indices u ≤ t of those blocks, padded to n·l′ (what index
// attention consumes). Never O(T·T) memory.
//
// The scores are computed like the compression branch's forward: for a tile of kSelectRows
// queries and a tile of 32 compressed blocks, each head's 4-query × 32-block score tiles
// (attention_detail::block_scores on the transposed key tile) give p = exp(s − lse) with
// fast_exp, summed over heads and then spread to the selection blocks by w(i,j). Work per
// query: H · visible blocks · Dk multiply-adds (vectorised) plus O(candidates · log n) for
// the top-n choice.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/nsa_params.h"

namespace tinyr2::kernels::cpu {

using kernels::NsaSelectParams;

// w(i,j) as defined above (tokens shared by compressed block i and selection block j, / d).
double nsa_overlap_weight(int64_t i, int64_t j, const NsaSelectParams& p);

using kernels::nsa_visible_blocks;  // kernels/nsa_params.h

// The pieces of selection shared with the fused compression kernel (nsa_compression.h).
namespace nsa_select_detail {

// Where compressed block i's probability goes: selection blocks first[i] … first[i] +
// count[i] − 1 with weights w[offset[i] + c] = w(i, first[i] + c).
struct OverlapTable {
  std::vector<int64_t> first, count, offset;
  std::vector<float> w;
  OverlapTable(int64_t nb, const NsaSelectParams& p);
  // s[j] += Σ_{i < e} w(i,j) · P[i] for the blocks i of P (the sums over heads).
  void spread(const float* P, int64_t i0, int64_t e, float* s) const {
    for (int64_t i = i0; i < i0 + e; ++i)
      for (int64_t c = 0; c < count[i]; ++c) s[first[i] + c] += w[offset[i] + c] * P[i - i0];
  }
};

// Step 3 for one query with selection scores s[0 … J): the forced blocks, then the best of
// the rest by descending score (ties → lower j), up to n; written ascending into out (n
// entries, −1 padded). chosen and rest are scratch.
void choose_blocks(const float* s, int64_t J, const NsaSelectParams& p, std::vector<char>& chosen,
                   std::vector<int32_t>& rest, int32_t* out);

}  // namespace nsa_select_detail

// q (B,T,H,Dk), k_cmp (B,nb,H,Dk), lse (B,T,H) → blocks (B,T,n). k_cmp may be null when
// nb = 0 (nothing is visible: the forced blocks, then the lowest j, are chosen).
// q_pos0: absolute position of query row 0 (0 for training; the decode position for a
// cached step).
void nsa_select_blocks(const float* q, const float* k_cmp, const float* lse, int32_t* blocks,
                       int64_t B, int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale,
                       const NsaSelectParams& p, int64_t q_pos0 = 0);

// q (B,T,H,Dk), k_cmp (B,nb,H,Dk), lse (B,T,H) → idx (B,T,n·l′).
// q_pos0: absolute position of query row 0 (0 for training; the decode position for a
// cached step, with T = 1).
void nsa_select(const float* q, const float* k_cmp, const float* lse, int32_t* idx, int64_t B,
                int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale, const NsaSelectParams& p,
                int64_t q_pos0 = 0);

}  // namespace tinyr2::kernels::cpu
