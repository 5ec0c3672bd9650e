#include "nn/linear_attention.h"

#include <algorithm>

#include "autograd/ops.h"
#include "autograd/ops_linear_attention.h"
#include "core/error.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

LinearAttention::LinearAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : SequenceMixer(p, prefix),
      c_attn(p.add(prefix + "c_attn.weight", {3 * cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      c_proj(p.add(prefix + "c_proj.weight", {cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      C_(cfg.n_embd),
      H_(cfg.n_head),
      dropout_(static_cast<float>(cfg.dropout)) {}

Tensor LinearAttention::output(ForwardContext& ctx, const Tensor& y) const {
  Tape& t = ctx.tape;
  Tensor out = linear(ctx, ops::reshape(t, y, {y.size(0), y.size(1), C_}), c_proj);
  if (ctx.training && dropout_ > 0.f) out = ops::dropout(t, out, dropout_, *ctx.rng);
  return out;
}

Tensor LinearAttention::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), D = C_ / H_;
  const std::vector<Tensor> qkv = ops::split(t, linear(ctx, x, c_attn), {C_, C_, C_}, -1);
  const Tensor q = ops::reshape(t, qkv[0], {B, T, H_, D});
  const Tensor k = ops::reshape(t, qkv[1], {B, T, H_, D});
  const Tensor v = ops::reshape(t, qkv[2], {B, T, H_, D});
  return output(ctx, ops::linear_attention(t, q, k, v));
}

void LinearAttentionState::clear() {
  S.fill(0.f);
  z.fill(0.f);
  positions = 0;
}

std::unique_ptr<MixerState> LinearAttention::new_state() const {
  auto s = std::make_unique<LinearAttentionState>();
  const int64_t D = C_ / H_;
  s->S = Tensor::zeros({1, H_, D, D});
  s->z = Tensor::zeros({1, H_, D});
  return s;
}

Tensor LinearAttention::forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                                       int64_t pos0) const {
  TINYR2_CHECK(x_new.dim() == 3 && x_new.size(0) == 1,
               "cached Linear attention: x {} must be (1,T,C)", shape_str(x_new.shape()));
  LinearAttentionState& s = state_as<LinearAttentionState>(state);
  TINYR2_CHECK(s.positions == pos0, "{}: state holds {} positions, not {}", prefix(), s.positions,
               pos0);
  Tape& t = ctx.tape;
  const int64_t T = x_new.size(1), D = C_ / H_;
  const std::vector<Tensor> qkv = ops::split(t, linear(ctx, x_new, c_attn), {C_, C_, C_}, -1);
  const Tensor q = ops::reshape(t, qkv[0], {1, T, H_, D});
  const Tensor k = ops::reshape(t, qkv[1], {1, T, H_, D});
  const Tensor v = ops::reshape(t, qkv[2], {1, T, H_, D});
  const Tensor o = ops::linear_attention(t, q, k, v, &s.S, &s.z);
  s.positions = pos0 + T;
  return output(ctx, o);
}

double LinearAttention::flops_per_token(int64_t T) const {
  // Per head and token, forward: φ(k)vᵀ into S (2·D²), φ(q)ᵀS (2·D²), and inside a chunk the
  // masked scores and their products with v (2·2·D per visible pair, on average chunk/2
  // pairs); ×3 with backward.
  const double D = static_cast<double>(C_ / H_), H = static_cast<double>(H_);
  const double pairs = static_cast<double>(std::min<int64_t>(T, ops::kLinearAttentionChunk)) / 2.0;
  return 3.0 * H * (4.0 * D * D + 4.0 * D * pairs);
}

}  // namespace tinyr2::nn
