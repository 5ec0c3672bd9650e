// Differentiable ops of the Sparse (MLA + NSA) layer (SPEC §2.3): the selection branch's
// block attention, and fused glue — several projections in one GEMM with the RoPE of MLA
// queries and keys folded in, and the gated sum of the branch outputs. Kernels (with the
// formulas) in kernels/cpu/nsa_block_attention and kernels/cpu/nsa_fused.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/tape.h"
#include "core/index_tensor.h"
#include "kernels/nsa_params.h"

namespace tinyr2::ops {

using kernels::NsaSelectParams;  // the block geometry of branches 1 and 2

// NSA's selection branch: query (b,t), at position q_offset + t, attends to the keys
// u ≤ q_offset + t of the blocks blocks[b,t,0..n) (block j is keys [j·block_size,
// (j+1)·block_size)), the same blocks for every head. q (B,Tq,H,Dk), k (B,Tk,H,Dk),
// v (B,Tk,H,Dv) → (B,Tq,H,Dv); blocks (B,Tq,n) int32 with −1 as padding (skipped) and
// 0 ≤ j·block_size < Tk otherwise; a repeated block counts once. A query that sees no key
// gets 0 and passes no gradient; no gradient flows through blocks.
Tensor block_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                       const IndexTensor& blocks, int64_t block_size, float scale,
                       int64_t q_offset = 0);

// NSA's sliding-window branch over a whole sequence (kernels/cpu/nsa_window_attention.h):
// query t of q (B,T,H,Dk) attends to the keys t − window < u ≤ t of k (B,T,H,Dk),
// v (B,T,H,Dv) → (B,T,H,Dv); window ≥ 1. The same values as causal_attention(q, k, v,
// scale, window) (up to float rounding), with kernels specialised for a window.
Tensor window_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                        int64_t window);

// NSA's compression branch with the selection branch's block choice fused in
// (kernels/cpu/nsa_compression.h): query t of q (B,T,H,Dk), at position q_pos0 + t, attends to
// the compressed blocks i of k (B,nb,H,Dk), v (B,nb,H,Dv) with i·d + l − 1 ≤ q_pos0 + t
// (p.block_size l, p.block_stride d) → (B,T,H,Dv), 0 where no block is visible. k and v
// may be undefined when there is no compressed block (nb = 0). With blocks, the selection
// branch's chosen blocks (B,T,n) (p.num_blocks n, −1 padded) are written there, from the
// same attention probabilities. with_output false computes only the selection (and returns
// an undefined tensor). Gradients flow to q, k, v through the output only.
Tensor compressed_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                            float scale, const NsaSelectParams& p, int64_t q_pos0, bool with_output,
                            IndexTensor* blocks);

// The RoPE angles of T positions for rotating `dim` entries (SPEC §2.2): cos and sin,
// (T, dim/2) each (kernels/cpu/rope.h's table). Built once, shared by the ops below.
struct RopeTable {
  int64_t T = 0, dim = 0;
  std::vector<float> cos, sin;
};
std::shared_ptr<const RopeTable> make_rope_table(const std::vector<int32_t>& positions, int64_t dim,
                                                 float theta);

// Rows [begin, end) of a weight (out, in).
struct WeightRows {
  Tensor weight;
  int64_t begin, end;
};
// One output of stacked_linear: x · Wᵀ for W = the stacked rows of `parts`, in order. With
// rope_heads > 0 the output is rope_heads equal head slices and RoPE rotates the last
// rope_dim entries of each (at the token's position), i.e. [x_nope ‖ RoPE(x_rope)] per head.
struct StackedOutput {
  std::vector<WeightRows> parts;
  int64_t rope_heads = 0, rope_dim = 0;
};

// Several linear maps (nn.Linear without bias) of x (B,T,C) as ONE matrix product with the
// stacked weight rows of every output, then copied out to one (B,T,width) tensor per
// output. rope is required (table of T positions) when an output has rope_heads > 0.
// Backward: one product for dx and one for the stacked weight gradient, added back into
// each weight's rows.
std::vector<Tensor> stacked_linear(Tape& tape, const Tensor& x,
                                   const std::vector<StackedOutput>& outputs,
                                   std::shared_ptr<const RopeTable> rope = nullptr);

// Σ_c g_c · o_c over the n branch outputs o_c (B,T,H,Dv) with gates (B,T,G,n), G = 1 (one
// weight per token, shared by heads) or G = H (per head) → (B,T,H,Dv).
Tensor gated_sum(Tape& tape, const std::vector<Tensor>& outs, const Tensor& gates);

}  // namespace tinyr2::ops
