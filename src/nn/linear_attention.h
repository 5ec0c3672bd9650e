// Causal linear attention (SPEC §10 "Linear", Katharopoulos et al. 2020): q,k,v =
// split(c_attn x), H heads of D = C/H, φ = elu + 1, o_t = φ(q_t)ᵀS_t / (φ(q_t)·z_t + 1e-6),
// y = c_proj(merge(o)); no RoPE. Chunked kernels (ops::linear_attention), never T×T. Its
// decode state is per head S (D×D) and z (D): a new token costs O(D²), flat in the position.
#pragma once

#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

// S (1,H,D,D) and z (1,H,D) after `positions` positions.
struct LinearAttentionState : MixerState {
  Tensor S, z;
  int64_t positions = 0;

  void clear() override;
  // S and z once a position was seen; none before (a fresh or cleared state holds none).
  int64_t bytes() const override { return positions > 0 ? allocated_bytes() : 0; }
  int64_t allocated_bytes() const override { return (S.numel() + z.numel()) * 4; }
};

class LinearAttention : public SequenceMixer {
 public:
  LinearAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);

  const char* type_name() const override { return "Linear"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  std::unique_ptr<MixerState> new_state() const override;
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // Per token, per head: φ(k)v ᵀ into S and φ(q)ᵀS (2·2·D² forward), the intra-chunk masked
  // products (2·2·D per visible pair), ×3 with backward (the .cpp has the count).
  double flops_per_token(int64_t T) const override;

  Tensor c_attn, c_proj;

 private:
  Tensor output(ForwardContext& ctx, const Tensor& y) const;

  int64_t C_, H_;
  float dropout_;
};

}  // namespace tinyr2::nn
