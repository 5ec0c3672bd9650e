#include "nn/full_attention.h"

#include <cmath>

#include "autograd/ops.h"

namespace tinyr2::nn {

FullAttention::FullAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : c_attn(p.add(prefix + "c_attn.weight", {3 * cfg.n_embd, cfg.n_embd}, Init::normal(static_cast<float>(cfg.init_std)))),
      c_proj(p.add(prefix + "c_proj.weight", {cfg.n_embd, cfg.n_embd}, Init::normal(static_cast<float>(cfg.init_std)))),
      lamb1(p.add(prefix + "lamb1", {}, Init::constant(0.5f))),
      lamb2(p.add(prefix + "lamb2", {}, Init::constant(0.5f))),
      C_(cfg.n_embd),
      H_(cfg.n_head),
      v_residual_(cfg.v_residual),
      dropout_(static_cast<float>(cfg.dropout)) {}

Tensor FullAttention::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), D = C_ / H_;
  const std::vector<Tensor> qkv = ops::split(t, ops::linear(t, x, c_attn), {C_, C_, C_}, -1);
  const Tensor q = ops::reshape(t, qkv[0], {B, T, H_, D});
  const Tensor k = ops::reshape(t, qkv[1], {B, T, H_, D});
  Tensor v = ops::reshape(t, qkv[2], {B, T, H_, D});
  if (v_residual_) {
    // The first FULL layer in depth order keeps its raw v; later ones mix it in.
    if (!ctx.v_first.defined()) ctx.v_first = v;
    else v = ops::add(t, ops::mul(t, v, lamb1), ops::mul(t, ctx.v_first, lamb2));
  }
  Tensor y = ops::causal_attention(t, q, k, v, 1.f / std::sqrt(static_cast<float>(D)));
  y = ops::linear(t, ops::reshape(t, y, {B, T, C_}), c_proj);
  if (ctx.training && dropout_ > 0.f) y = ops::dropout(t, y, dropout_, *ctx.rng);
  return y;
}

}  // namespace tinyr2::nn
