// The Sparse attention layer (SPEC §2.3): an MLA query path shared by up to three Native
// Sparse Attention branches — compression, selection, sliding window — mixed by a gate.
//
// Every branch is exactly causal and truly sparse: compression scores query t against the
// ⌊(t−l)/d⌋+1 complete blocks it can see (key-range attention), selection attends over the
// n·l′ tokens of the blocks chosen for t (per-query index attention, one block set for all
// heads of a token), and the window touches the last w keys. No T×T tensor exists.
#pragma once

#include <optional>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/rmsnorm.h"

namespace tinyr2::nn {

class SparseAttention {
 public:
  SparseAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg, BranchSet branches);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (B,T,C) → (B,T,C)

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
  ModelConfig cfg_;
  BranchSet branches_;
  int64_t n_active_;
  bool need_compressed_;  // branch 1 or 2
};

}  // namespace tinyr2::nn
