#include "nn/lfa_attention.h"

#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/quantized.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

namespace {

// Causal convolution of kernel 2 (SPEC §10 LFA): u (B,T,Cin), W (Cout,Cin,2), b (Cout),
// prev (B,1,Cin) the row before u's first → (B,T,Cout) = W[:,:,0]·u_{t−1} + W[:,:,1]·u_t + b.
Tensor causal_conv2(Tape& t, const Tensor& u, const Tensor& W, const Tensor& b,
                    const Tensor& prev) {
  const int64_t T = u.size(1), Cout = W.size(0), Cin = W.size(1);
  const Tensor w0 = ops::reshape(t, ops::slice(t, W, 2, 0, 1), {Cout, Cin});
  const Tensor w1 = ops::reshape(t, ops::slice(t, W, 2, 1, 2), {Cout, Cin});
  const Tensor shifted = T > 1 ? ops::concat(t, {prev, ops::slice(t, u, 1, 0, T - 1)}, 1) : prev;
  return ops::add(t, ops::add(t, ops::linear(t, shifted, w0), ops::linear(t, u, w1)), b);
}

}  // namespace

LfaAttention::LfaAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : SequenceMixer(p, prefix),
      conv1_w(p.add(prefix + "lf.conv1.weight", {cfg.n_embd / 2, cfg.n_embd, 2},
                    Init::normal(static_cast<float>(cfg.init_std)))),
      conv1_b(p.add(prefix + "lf.conv1.bias", {cfg.n_embd / 2}, Init::constant(0.f))),
      conv2_w(p.add(prefix + "lf.conv2.weight", {cfg.n_embd, cfg.n_embd / 2, 2},
                    Init::normal(static_cast<float>(cfg.init_std)))),
      conv2_b(p.add(prefix + "lf.conv2.bias", {cfg.n_embd}, Init::constant(0.f))),
      norm(p, prefix + "lf.norm.", cfg.n_embd, cfg.norm_eps),
      c_qk(p.add(prefix + "c_qk.weight", {2 * cfg.n_embd, cfg.n_embd},
                 Init::normal(static_cast<float>(cfg.init_std)))),
      c_v(p.add(prefix + "c_v.weight", {cfg.n_embd, cfg.n_embd},
                Init::normal(static_cast<float>(cfg.init_std)))),
      c_proj(p.add(prefix + "c_proj.weight", {cfg.n_embd, cfg.n_embd},
                   Init::normal(static_cast<float>(cfg.init_std)))),
      C_(cfg.n_embd),
      H_(cfg.n_head),
      half_(cfg.n_embd / 2),
      max_positions_(cfg.ctx_len),
      rope_(uses_rope_positions(cfg)),
      rope_base_(static_cast<float>(rope_base(cfg, cfg.head_dim()))),
      dropout_(static_cast<float>(cfg.dropout)) {}

std::array<Tensor, 3> LfaAttention::qkv(ForwardContext& ctx, const Tensor& x, const Tensor& prev_x,
                                        const Tensor& prev_c1, int64_t pos0, Tensor* c1_out) const {
  Tape& t = ctx.tape;
  const int64_t B = x.size(0), T = x.size(1), D = C_ / H_;
  const Tensor c1 = causal_conv2(t, x, conv1_w, conv1_b, prev_x);
  const Tensor f =
      norm.forward(ctx, ops::add(t, causal_conv2(t, c1, conv2_w, conv2_b, prev_c1), x));
  if (c1_out) *c1_out = c1;
  const std::vector<Tensor> qk = ops::split(t, linear(ctx, f, c_qk), {C_, C_}, -1);
  Tensor q = ops::reshape(t, qk[0], {B, T, H_, D});
  Tensor k = ops::reshape(t, qk[1], {B, T, H_, D});
  const Tensor v = ops::reshape(t, linear(ctx, x, c_v), {B, T, H_, D});
  if (rope_) {
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(pos0 + i);
    q = ops::rope(t, q, pos, rope_base_);
    k = ops::rope(t, k, pos, rope_base_);
  }
  return {q, k, v};
}

Tensor LfaAttention::output(ForwardContext& ctx, const Tensor& y) const {
  Tape& t = ctx.tape;
  Tensor out = linear(ctx, ops::reshape(t, y, {y.size(0), y.size(1), C_}), c_proj);
  if (ctx.training && dropout_ > 0.f) out = ops::dropout(t, out, dropout_, *ctx.rng);
  return out;
}

Tensor LfaAttention::forward(ForwardContext& ctx, const Tensor& x) const {
  const int64_t B = x.size(0);
  const auto [q, k, v] =
      qkv(ctx, x, Tensor::zeros({B, 1, C_}), Tensor::zeros({B, 1, half_}), 0, nullptr);
  const float scale = 1.f / std::sqrt(static_cast<float>(C_ / H_));
  return output(ctx, ops::causal_attention(ctx.tape, q, k, v, scale));
}

void LfaState::clear() {
  k.clear();
  v.clear();
  positions = 0;
}

int64_t LfaState::bytes() const {
  const int64_t rows = positions > 0 ? (last_x.numel() + last_c1.numel()) * 4 : 0;
  return k.bytes() + v.bytes() + rows;
}

int64_t LfaState::allocated_bytes() const {
  return k.allocated_bytes() + v.allocated_bytes() + (last_x.numel() + last_c1.numel()) * 4;
}

std::unique_ptr<MixerState> LfaAttention::new_state() const {
  auto s = std::make_unique<LfaState>();
  s->k = RowBuffer({H_, C_ / H_}, max_positions_);
  s->v = RowBuffer({H_, C_ / H_}, max_positions_);
  s->last_x = Tensor::zeros({1, 1, C_});
  s->last_c1 = Tensor::zeros({1, 1, half_});
  return s;
}

Tensor LfaAttention::forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                                    int64_t pos0) const {
  TINYR2_CHECK(x_new.dim() == 3 && x_new.size(0) == 1, "cached LFA: x {} must be (1,T,C)",
               shape_str(x_new.shape()));
  LfaState& s = state_as<LfaState>(state);
  TINYR2_CHECK(s.positions == pos0 && s.k.rows() == pos0, "{}: state holds {} positions, not {}",
               prefix(), s.positions, pos0);
  const int64_t T = x_new.size(1);
  // At position 0 the rows before are zeros (u_{−1} = 0 for both convolutions).
  const Tensor prev_x = pos0 > 0 ? s.last_x.clone() : Tensor::zeros({1, 1, C_});
  const Tensor prev_c1 = pos0 > 0 ? s.last_c1.clone() : Tensor::zeros({1, 1, half_});
  Tensor c1;
  const auto [q, k, v] = qkv(ctx, x_new, prev_x, prev_c1, pos0, &c1);
  s.last_x.copy_from(x_new.view({T, C_}).rows(T - 1, T));
  s.last_c1.copy_from(c1.view({T, half_}).rows(T - 1, T));
  s.k.append(k);
  s.v.append(v);
  s.positions = pos0 + T;
  const float scale = 1.f / std::sqrt(static_cast<float>(C_ / H_));
  return output(ctx, ops::causal_attention(ctx.tape, q, s.k.view(), s.v.view(), scale, 0, pos0));
}

double LfaAttention::flops_per_token(int64_t T) const {
  return 12.0 * static_cast<double>(T * C_) / 2.0;
}

}  // namespace tinyr2::nn
