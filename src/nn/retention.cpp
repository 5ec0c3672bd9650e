#include "nn/retention.h"

#include <cmath>
#include <numeric>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_retention.h"
#include "core/error.h"
#include "nn/quantized.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

namespace {

// The RoPE base of a Retention layer (SPEC §10): rope_theta; the NTK-scaled base of
// rope_scaling is applied here once the config carries that key.
// SPEC §10: Retention's RoPE takes the NTK base like every RoPE of the model (D = head size).
float retention_rope_base(const ModelConfig& cfg) {
  if (cfg.rope_scaling > 1.0 && cfg.head_dim() <= 2)
    fail("rope_scaling = {} needs RoPE sizes > 2, but Retention's head size is {}",
         cfg.rope_scaling, cfg.head_dim());
  return static_cast<float>(rope_base(cfg, cfg.head_dim()));
}

}  // namespace

Retention::Retention(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : SequenceMixer(p, prefix),
      c_attn(p.add(prefix + "c_attn.weight", {3 * cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      g_proj(p.add(prefix + "g_proj.weight", {cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      head_norm(p.add(prefix + "head_norm.weight", {cfg.n_embd}, Init::constant(1.f))),
      c_proj(p.add(prefix + "c_proj.weight", {cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      C_(cfg.n_embd),
      H_(cfg.n_head),
      rope_base_(retention_rope_base(cfg)),
      eps_(static_cast<float>(cfg.norm_eps)),
      dropout_(static_cast<float>(cfg.dropout)),
      ones_(Tensor::full({cfg.head_dim()}, 1.f)) {
  if (cfg.head_dim() % 2 != 0)
    fail("{}: Retention needs an even head size for RoPE, got n_embd / n_head = {}", prefix,
         cfg.head_dim());
}

Tensor Retention::run(ForwardContext& ctx, const Tensor& x, int64_t pos0, const Tensor& S) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), D = C_ / H_;
  const std::vector<Tensor> qkv = ops::split(t, linear(ctx, x, c_attn), {C_, C_, C_}, -1);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  std::iota(pos.begin(), pos.end(), static_cast<int32_t>(pos0));
  const Tensor q = ops::rope(t, ops::reshape(t, qkv[0], {B, T, H_, D}), pos, rope_base_);
  const Tensor k = ops::rope(t, ops::reshape(t, qkv[1], {B, T, H_, D}), pos, rope_base_);
  const Tensor v = ops::reshape(t, qkv[2], {B, T, H_, D});
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  Tensor o = ops::retention(t, q, k, v, scale, S);
  o = ops::mul(t, ops::rmsnorm(t, o, ones_, eps_), ops::reshape(t, head_norm, {H_, D}));
  const Tensor gate = ops::silu(t, linear(ctx, x, g_proj));
  Tensor out = linear(ctx, ops::mul(t, gate, ops::reshape(t, o, {B, T, C_})), c_proj);
  if (ctx.training && dropout_ > 0.f) out = ops::dropout(t, out, dropout_, *ctx.rng);
  return out;
}

Tensor Retention::forward(ForwardContext& ctx, const Tensor& x) const {
  TINYR2_CHECK(x.dim() == 3 && x.size(2) == C_, "{}: x {} must be (B,T,{})", prefix(),
               shape_str(x.shape()), C_);
  return run(ctx, x, 0, Tensor());
}

void RetentionState::clear() {
  S.fill(0.f);
  length = 0;
}

std::unique_ptr<MixerState> Retention::new_state() const {
  auto s = std::make_unique<RetentionState>();
  s->S = Tensor::zeros({1, H_, C_ / H_, C_ / H_});
  return s;
}

Tensor Retention::forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                                 int64_t pos0) const {
  TINYR2_CHECK(x_new.dim() == 3 && x_new.size(0) == 1 && x_new.size(2) == C_,
               "cached Retention: x {} must be (1,T,{})", shape_str(x_new.shape()), C_);
  RetentionState& s = state_as<RetentionState>(state);
  TINYR2_CHECK(s.length == pos0, "{}: cache holds {} positions, not {}", prefix(), s.length, pos0);
  NoGradGuard ng(ctx.tape);
  Tensor out = run(ctx, x_new, pos0, s.S);
  s.length = pos0 + x_new.size(1);
  return out;
}

double Retention::flops_per_token(int64_t /*T*/) const {
  const double L = 64.0, D = static_cast<double>(C_ / H_);
  return 3.0 * (2.0 * L * static_cast<double>(C_) + 4.0 * D * static_cast<double>(C_));
}

}  // namespace tinyr2::nn
