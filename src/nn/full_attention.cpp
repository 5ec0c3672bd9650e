#include "nn/full_attention.h"

#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/quantized.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

namespace {
std::vector<int32_t> positions(int64_t pos0, int64_t T) {
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(pos0 + i);
  return pos;
}
}  // namespace

FullAttention::FullAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : SequenceMixer(p, prefix),
      c_attn(p.add(prefix + "c_attn.weight", {3 * cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      c_proj(p.add(prefix + "c_proj.weight", {cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      lamb1(p.add(prefix + "lamb1", {}, Init::constant(0.5f))),
      lamb2(p.add(prefix + "lamb2", {}, Init::constant(0.5f))),
      C_(cfg.n_embd),
      H_(cfg.n_head),
      max_positions_(cfg.ctx_len),
      v_residual_(cfg.v_residual),
      rope_(uses_rope_positions(cfg)),
      rope_base_(static_cast<float>(rope_base(cfg, cfg.head_dim()))),
      dropout_(static_cast<float>(cfg.dropout)) {}

std::array<Tensor, 3> FullAttention::qkv(ForwardContext& ctx, const Tensor& x,
                                         const std::vector<int32_t>& pos) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), D = C_ / H_;
  const std::vector<Tensor> qkv = ops::split(t, linear(ctx, x, c_attn), {C_, C_, C_}, -1);
  Tensor q = ops::reshape(t, qkv[0], {B, T, H_, D});
  Tensor k = ops::reshape(t, qkv[1], {B, T, H_, D});
  TINYR2_CHECK(static_cast<int64_t>(pos.size()) == T, "{}: {} positions for {} tokens", prefix(),
               pos.size(), T);
  if (rope_) {  // SPEC §10 pos_embedding "rope"
    q = ops::rope(t, q, pos, rope_base_);
    k = ops::rope(t, k, pos, rope_base_);
  }
  Tensor v = ops::reshape(t, qkv[2], {B, T, H_, D});
  if (v_residual_) {
    // The first FULL layer in depth order keeps its raw v; later ones mix it in.
    if (!ctx.v_first.defined())
      ctx.v_first = v;
    else
      v = ops::add(t, ops::mul(t, v, lamb1), ops::mul(t, ctx.v_first, lamb2));
  }
  return {q, k, v};
}

Tensor FullAttention::output(ForwardContext& ctx, const Tensor& y) const {
  Tape& t = ctx.tape;
  Tensor out = linear(ctx, ops::reshape(t, y, {y.size(0), y.size(1), C_}), c_proj);
  if (ctx.training && dropout_ > 0.f) out = ops::dropout(t, out, dropout_, *ctx.rng);
  return out;
}

Tensor FullAttention::forward(ForwardContext& ctx, const Tensor& x) const {
  const auto [q, k, v] = qkv(ctx, x, positions(0, x.size(1)));
  const float scale = 1.f / std::sqrt(static_cast<float>(C_ / H_));
  return output(ctx, ops::causal_attention(ctx.tape, q, k, v, scale));
}

void FullAttentionState::clear() {
  k.clear();
  v.clear();
}

std::unique_ptr<MixerState> FullAttention::new_state() const {
  auto s = std::make_unique<FullAttentionState>();
  s->k = RowBuffer({H_, C_ / H_}, max_positions_);
  s->v = RowBuffer({H_, C_ / H_}, max_positions_);
  return s;
}

Tensor FullAttention::forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                                     int64_t pos0) const {
  TINYR2_CHECK(x_new.dim() == 3 && x_new.size(0) == 1,
               "cached FULL attention: x {} must be (1,T,C)", shape_str(x_new.shape()));
  FullAttentionState& s = state_as<FullAttentionState>(state);
  TINYR2_CHECK(s.k.rows() == pos0, "{}: cache holds {} positions, not {}", prefix(), s.k.rows(),
               pos0);
  const auto [q, k, v] = qkv(ctx, x_new, positions(pos0, x_new.size(1)));
  s.k.append(k);
  s.v.append(v);
  const float scale = 1.f / std::sqrt(static_cast<float>(C_ / H_));
  return output(ctx, ops::causal_attention(ctx.tape, q, s.k.view(), s.v.view(), scale, 0, pos0));
}

double FullAttention::flops_per_token(int64_t T) const {
  return 12.0 * static_cast<double>(T * C_) / 2.0;
}

}  // namespace tinyr2::nn
