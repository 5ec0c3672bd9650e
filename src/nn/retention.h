// Multi-scale retention (RetNet; SPEC §10 "Retention"), config name "Retention":
//   q,k,v = split(c_attn x); RoPE on q and k of each head (position t);
//   o_t = Σ_{u≤t} γ_h^(t−u) (q_t·k_u / sqrt(D)) v_u, γ_h = 1 − 2^(−5−h)  (ops::retention,
//   chunked: no T×T tensor); each head's o RMS-normalised on its D values and scaled by its
//   slice of head_norm.weight; y = c_proj(silu(g_proj x) ⊙ merge(o)).
// Decode state per head: S_t = γ S_{t−1} + k_t v_tᵀ (D×D), so a new token costs O(D²) per
// head whatever its position.
#pragma once

#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

// Retention's decode state: S (1, H, D, D) after the positions seen.
struct RetentionState : MixerState {
  Tensor S;
  int64_t length = 0;  // positions seen

  void clear() override;
  // S once a position has been seen (0 before), whatever the number of positions.
  int64_t bytes() const override { return length > 0 ? allocated_bytes() : 0; }
  int64_t allocated_bytes() const override {
    return S.numel() * static_cast<int64_t>(sizeof(float));
  }
};

class Retention : public SequenceMixer {
 public:
  Retention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);

  const char* type_name() const override { return "Retention"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  std::unique_ptr<MixerState> new_state() const override;
  // Decoding (SPEC §7, §10): the new positions read and advance S; no gradient.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // Per token, forward + backward ≈ 3 × (intra-chunk 2·2·L·C/2 + state 2·2·D·C) with
  // L = 64 the chunk: independent of T.
  double flops_per_token(int64_t T) const override;

  Tensor c_attn, g_proj, head_norm, c_proj;

 private:
  // y for x (B,T,C) at positions pos0 … pos0+T−1, reading and advancing `S` when defined.
  Tensor run(ForwardContext& ctx, const Tensor& x, int64_t pos0, const Tensor& S) const;

  int64_t C_, H_;
  float rope_base_, eps_, dropout_;
  Tensor ones_;  // (D): the unit weight of the per-head RMS normalisation before head_norm
};

}  // namespace tinyr2::nn
