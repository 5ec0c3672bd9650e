// The Sparse attention layer (SPEC §2.3): an MLA query path shared by up to three Native
// Sparse Attention branches — compression, selection, sliding window — mixed by a gate.
//
// Every branch is exactly causal and truly sparse: compression scores query t against the
// ⌊(t−l)/d⌋+1 complete blocks it can see (key-range attention), selection attends over the
// n·l′ tokens of the blocks chosen for t (block attention over contiguous key ranges, one
// block set for all heads of a token), and the window touches the last w keys. No T×T
// tensor exists.
//
// A SequenceMixer (nn/sequence_mixer.h), config name "Sparse", branches from attention_mode.
// Its decode state (SparseAttentionState below) keeps per new token only what the branches
// read: nb ≈ t/d compressed keys, the selection rows and the w window rows.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops_nsa.h"
#include "core/index_tensor.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/rmsnorm.h"
#include "nn/sequence_mixer.h"
#include "nn/state_buffers.h"

namespace tinyr2::nn {

// Sparse's decode state; buffers of inactive branches stay empty (default-constructed).
//   k_cmp, v_cmp   (nb, H, nope+rope), (nb, H, v_head_dim): branch 1's keys and values of the
//                  nb complete compressed blocks (also branch 2's scores); branch 1 or 2.
//   raw            (·, C): the normalised input rows [raw_start, t) not yet consumed by a
//                  compressed block — the tail the next block is built from (raw_start =
//                  nb·d, so fewer than l rows once a block completes; with d < l blocks
//                  overlap and the tail holds the l − d shared rows too); branch 1 or 2.
//   k_sel, v_sel   (t, H, nope+rope), (t, H, v_head_dim): selection_k / selection_v of every
//                  position, RoPE applied; branch 2.
//   k_win, v_win   rings of the last w window keys / values: position p in slot p mod w;
//                  branch 3.
struct SparseAttentionState : MixerState {
  RowBuffer k_cmp, v_cmp;
  RowBuffer raw;
  int64_t raw_start = 0;
  RowBuffer k_sel, v_sel;
  RingBuffer k_win, v_win;

  void clear() override;
  int64_t bytes() const override;
  int64_t allocated_bytes() const override;
};

class SparseAttention : public SequenceMixer {
 public:
  SparseAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg,
                  BranchSet branches);

  const char* type_name() const override { return "Sparse"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  // The active branches' buffers for ctx_len positions.
  std::unique_ptr<MixerState> new_state() const override;
  // Decoding (SPEC §7): the same ops as forward on the same values: complete blocks are
  // compressed once, when their last token arrives; the selection branch scores the cached
  // compressed keys and attends over cached selection rows; the window reads the ring.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // Batched decoding: the projections and the gate/output of all B rows are one GEMM each;
  // the branches attend per row against its own state (nn/mixer_batch.cpp).
  Tensor forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                              const std::vector<MixerState*>& states,
                              const std::vector<int64_t>& pos) const override;
  // The attention products of the active branches, averaged over positions t < T (the
  // projections are in 6·N): per head and key, 2·(Dk + vd) forward and twice that backward,
  // over the ⌊(t−l)/d⌋+1 compressed blocks visible to t (branch 1), at most min(n·l′, t+1)
  // selected tokens (branch 2; its block scores are branch 1's, or a forward-only 2·Dk per
  // block without it) and min(w, t+1) window keys (branch 3).
  double flops_per_token(int64_t T) const override;

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
  // The cached branches on new rows x (1,Tn,C) at pos0 … with their projections pr: extends
  // the state and returns the active branches' outputs (1,Tn,H,vd), in branch order.
  std::vector<Tensor> attend_cached(ForwardContext& ctx, const Tensor& x, const Projections& pr,
                                    MixerState& state, int64_t pos0) const;
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
