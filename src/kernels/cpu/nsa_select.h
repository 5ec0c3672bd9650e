// NSA block selection (SPEC §2.3, branch 2), no gradient.
//
// For query t (of batch b):
//   p_h[i] = exp(q_{t,h}·k_{i,h}·scale − lse_{t,h})   branch-1 probabilities over the
//            compressed blocks i visible to t (i·d + l − 1 ≤ t), per head h
//   s[j]   = Σ_h Σ_i w(i,j) · p_h[i],  w(i,j) = |[i·d, i·d+l) ∩ [j·l′, (j+1)·l′)| / d
//   candidates: selection blocks j with j·l′ ≤ t; forced: the first `init_blocks` and the
//   `local_blocks` ending at t's own block; the rest filled by descending s (ties → lower j)
//   up to n blocks.
// Output: the token indices u ≤ t of the chosen blocks, ascending, padded with −1 to n·l′
// per query — the index list the per-query attention primitive consumes. Work per query
// is O(H · visible blocks + candidates · log), never O(T·T) memory.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

struct NsaSelectParams {
  int64_t block_size;         // l
  int64_t block_stride;       // d
  int64_t select_block_size;  // l′
  int64_t num_blocks;         // n = num_tokens_to_keep / l′
  int64_t init_blocks, local_blocks;
};

// w(i,j) as defined above (tokens shared by compressed block i and selection block j, / d).
double nsa_overlap_weight(int64_t i, int64_t j, const NsaSelectParams& p);

// q (B,T,H,Dk), k_cmp (B,nb,H,Dk), lse (B,T,H) → idx (B,T,n·l′).
// q_pos0: absolute position of query row 0 (0 for training; the decode position for a
// cached step, with T = 1).
void nsa_select(const float* q, const float* k_cmp, const float* lse, int32_t* idx, int64_t B,
                int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale,
                const NsaSelectParams& p, int64_t q_pos0 = 0);

}  // namespace tinyr2::kernels::cpu
