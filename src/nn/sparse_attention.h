// The Sparse attention layer (SPEC §2.3): an MLA query path shared by up to three Native
// Sparse Attention branches — compression, selection, sliding window — mixed by a gate.
//
// Every branch is exactly causal and truly sparse: compression scores query t against the
// ⌊(t−l)/d⌋+1 complete blocks it can see (key-range attention), selection attends over the
// n·l′ tokens of the blocks chosen for t (block attention over contiguous key ranges, one
// block set for all heads of a token), and the window touches the last w keys. No T×T
// tensor exists.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops_nsa.h"
#include "core/index_tensor.h"
#include "infer/kv_cache.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/rmsnorm.h"

namespace tinyr2::nn {

class SparseAttention {
 public:
  SparseAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg,
                  BranchSet branches);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (B,T,C) → (B,T,C)
  // Decoding (SPEC §7): x_new (1,Tn,C) holds positions pos0 … pos0+Tn−1 of one sequence whose
  // earlier positions are in `cache` (layout in infer/kv_cache.h); the cache is extended by
  // the new positions. The same ops as forward on the same values: complete blocks are
  // compressed once, when their last token arrives; the selection branch scores the cached
  // compressed keys and attends over cached selection rows; the window reads the ring.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new,
                        infer::SparseAttentionCache& cache, int64_t pos0) const;

  // MLA query path
  Tensor compress_q_linear, decompress_q_nope, decompress_q_rope;
  RMSNorm q_norm;
  // branch 1 (and the scores of branch 2)
  Tensor block_compressor_0, block_compressor_2, intra_block_pos_encoding, compress_kv_linear,
      decompress_k_nope, decompress_v_linear, k_rope_linear;
  std::optional<RMSNorm> kv_norm;
  // branch 2, branch 3
  Tensor selection_k, selection_v, window_k, window_v;
  // gate and output
  Tensor branch_gate, proj;

  const BranchSet& branches() const { return branches_; }
  int64_t num_active() const { return n_active_; }

 private:
  // Everything computed per token from x (B,T,C) at `positions`: the MLA query
  // [q_nope ‖ RoPE(q_rope)] per head (B,T,H,Dk), the active branches' selection / window
  // keys (B,T,H,Dk, RoPE on each head's rope part) and values (B,T,H,vd), and the gate
  // logits (B,T,gate_out). x's projections (compress_q_linear, selection_k/v, window_k/v,
  // branch_gate) are one GEMM, the query's two decompressions another (ops::stacked_linear);
  // inactive branches' tensors stay undefined.
  struct Projections {
    Tensor q, k_sel, v_sel, k_win, v_win, gate_logits;
  };
  Projections project(ForwardContext& ctx, const Tensor& x,
                      const std::vector<int32_t>& positions) const;
  // Branch-1 keys (B,nb,H,Dk) and values (B,nb,H,vd) of blocks (B·nb·l, C) — the raw rows of
  // nb blocks, token-major — whose first block has index first_block.
  std::pair<Tensor, Tensor> compress(ForwardContext& ctx, const Tensor& blocks, int64_t B,
                                     int64_t nb, int64_t first_block) const;
  // The block geometry of branches 1 and 2, for ops::compressed_attention's selection.
  ops::NsaSelectParams select_params() const;
  // Gate the branch outputs (B,T,H,vd) with the gate logits (B,T,gate_out), merge heads,
  // project (+ dropout).
  Tensor combine(ForwardContext& ctx, const Tensor& gate_logits,
                 const std::vector<Tensor>& outs) const;

  ModelConfig cfg_;
  BranchSet branches_;
  int64_t n_active_;
  bool need_compressed_;  // branch 1 or 2
};

}  // namespace tinyr2::nn
