// LFA, Yuan 2.0's localized filtering attention (SPEC §10 "LFA"): FULL causal attention whose
// q and k come from f = lf.norm(conv2(conv1(x)) + x) and whose v comes from x. conv1 (C → C/2)
// and conv2 (C/2 → C) are causal 1-D convolutions of kernel 2 with bias,
// conv(u)_t = W[:,:,0]·u_{t−1} + W[:,:,1]·u_t + b, u_{−1} = 0; RoPE on q and k with
// pos_embedding "rope". Decode state: k, v rows like FULL plus the last x row (conv1's
// u_{t−1}) and the last conv1 output row (conv2's).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/rmsnorm.h"
#include "nn/sequence_mixer.h"
#include "nn/state_buffers.h"

namespace tinyr2::nn {

// k, v (t, H, C/H) of every position; last_x (1,1,C), last_c1 (1,1,C/2) of position t−1.
struct LfaState : MixerState {
  RowBuffer k, v;
  Tensor last_x, last_c1;
  int64_t positions = 0;

  void clear() override;
  // k and v rows (2·C floats per position) and the two conv rows (C + C/2) once t > 0.
  int64_t bytes() const override;
  int64_t allocated_bytes() const override;
};

class LfaAttention : public SequenceMixer {
 public:
  LfaAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);

  const char* type_name() const override { return "LFA"; }
  Tensor forward(ForwardContext& ctx, const Tensor& x) const override;  // (B,T,C) → (B,T,C)
  std::unique_ptr<MixerState> new_state() const override;               // ctx_len rows
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                        int64_t pos0) const override;
  // QKᵀ and PV like FULL: 6·T·C (the convolutions are parameter FLOPs).
  double flops_per_token(int64_t T) const override;

  Tensor conv1_w, conv1_b, conv2_w, conv2_b;
  RMSNorm norm;
  Tensor c_qk, c_v, c_proj;

 private:
  // q, k, v (B,T,H,D) of x at positions pos0 …; prev_x (B,1,C) / prev_c1 (B,1,C/2) are the
  // rows before position pos0 (zeros at 0). c1 receives conv1's output (B,T,C/2).
  std::array<Tensor, 3> qkv(ForwardContext& ctx, const Tensor& x, const Tensor& prev_x,
                            const Tensor& prev_c1, int64_t pos0, Tensor* c1) const;
  Tensor output(ForwardContext& ctx, const Tensor& y) const;

  int64_t C_, H_, half_, max_positions_;
  bool rope_;
  float rope_base_, dropout_;
};

}  // namespace tinyr2::nn
