// Mamba-1 selective state-space layer (SPEC §10 "Mamba"), config name "Mamba":
//   [xs, z] = split(in_proj x) (d_in each); xc = silu(conv1d(xs)) (depthwise, causal, K taps);
//   [δ, Bm, Cm] = split(x_proj xc) (R, N, N); Δ = softplus(dt_proj δ + dt_proj.bias);
//   h_t = exp(Δ_t A) h_{t−1} + Δ_t xc_t Bm_t, A = −exp(A_log); y_t = h_t Cm_t + D xc_t;
//   out = out_proj(y ⊙ silu(z)).
// The scan (ops::selective_scan) is O(T·d_in·N) and its backward keeps only per-chunk
// checkpoints. Decode state: the last K−1 rows of xs and h (d_in × N): O(1) per token.
#pragma once

#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

// Mamba's decode state: conv (1, K−1, d_in) the last K−1 rows of xs (zeros before position
// 0), h (1, d_in, N).
struct MambaState : MixerState {
  Tensor conv, h;
  int64_t length = 0;  // positions seen

  void clear() override;
  // conv and h once a position has been seen (0 before), whatever the number of positions.
  int64_t bytes() const override { return length > 0 ? allocated_bytes() : 0; }
  int64_t allocated_bytes() const override {
    return (conv.numel() + h.numel()) * static_cast<int64_t>(sizeof(float));
  }
};

class Mamba : public SequenceMixer {
 public:
  Mamba(Parameters& p, const std::string& prefix, const ModelConfig& cfg);

  const char* type_name() const override { return "Mamba"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  std::unique_ptr<MixerState> new_state() const override;
  // Decoding (SPEC §7, §10): the new positions read and advance the state; no gradient.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // The scan and the conv, forward + backward (the backward reruns the scan twice):
  // ≈ 30·d_in·N + 6·K·d_in per token, independent of T.
  double flops_per_token(int64_t T) const override;

  Tensor in_proj, conv_w, conv_b, x_proj, dt_w, dt_b, A_log, D, out_proj;

 private:
  // out for x (B,T,C) given the conv output path; state null in training.
  Tensor run(ForwardContext& ctx, const Tensor& x, MambaState* state) const;

  int64_t C_, d_in_, N_, K_, R_;
  float dropout_;
};

}  // namespace tinyr2::nn
