// FULL causal attention (SPEC §2.1): q,k,v = split(c_attn x), H heads of C/H, scale
// 1/sqrt(C/H), no RoPE — with pos_embedding "rope" (SPEC §10) RoPE on each head's q and k at
// its position, NTK base nn::rope_base; optional value residual across FULL layers. A SequenceMixer
// (nn/sequence_mixer.h), config name "FULL"; its decode state keeps k and v of every position.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"
#include "nn/state_buffers.h"

namespace tinyr2::nn {

// FULL's decode state: k, v (t, H, C/H) of every position seen, v after the value residual.
struct FullAttentionState : MixerState {
  RowBuffer k, v;

  void clear() override;
  int64_t bytes() const override { return k.bytes() + v.bytes(); }
  int64_t allocated_bytes() const override { return k.allocated_bytes() + v.allocated_bytes(); }
};

class FullAttention : public SequenceMixer {
 public:
  FullAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);

  const char* type_name() const override { return "FULL"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  // Rows for ctx_len positions.
  std::unique_ptr<MixerState> new_state() const override;
  // Decoding (SPEC §7): the state must hold exactly pos0 positions; the new positions' k and
  // v are appended and their queries attend causally over every cached position. Same ops
  // as forward.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // Batched decoding: q, k, v of all B rows are one GEMM, as is the output projection; each
  // row attends over its own state's rows (nn/mixer_batch.cpp).
  Tensor forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                              const std::vector<MixerState*>& states,
                              const std::vector<int64_t>& pos) const override;
  // QKᵀ and PV: 2·2·T·C per token forward, ×3 with backward, halved by the causal mask
  // (PaLM, Chowdhery et al. 2022, appendix B): 6·T·C.
  double flops_per_token(int64_t T) const override;

  Tensor c_attn, c_proj, lamb1, lamb2;

 private:
  // q, k, v (B,T,H,C/H) of x at positions pos0 …, v after the value residual (which sets or
  // reads ctx.v_first), q and k rotated when the model uses RoPE positions.
  // q, k, v (B,T,H,D) of x (B,T,C) whose T tokens are at positions pos (RoPE, when on).
  std::array<Tensor, 3> qkv(ForwardContext& ctx, const Tensor& x,
                            const std::vector<int32_t>& pos) const;
  // c_proj(merge_heads(y)) with dropout in training; y (B,T,H,C/H) → (B,T,C).
  Tensor output(ForwardContext& ctx, const Tensor& y) const;

  int64_t C_, H_, max_positions_;
  bool v_residual_, rope_;
  float rope_base_;
  float dropout_;
};

}  // namespace tinyr2::nn
