#include "nn/mamba.h"

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_ssm.h"
#include "core/error.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

namespace {

// A_log[c, n] = log(n + 1) (SPEC §10).
std::vector<float> a_log_init(int64_t d, int64_t N) {
  std::vector<float> v(static_cast<size_t>(d * N));
  for (int64_t c = 0; c < d; ++c)
    for (int64_t n = 0; n < N; ++n) v[c * N + n] = std::log(static_cast<float>(n + 1));
  return v;
}

}  // namespace

Mamba::Mamba(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : SequenceMixer(p, prefix),
      C_(cfg.n_embd),
      d_in_(cfg.mamba_expand * cfg.n_embd),
      N_(cfg.mamba_d_state),
      K_(cfg.mamba_d_conv),
      R_(cfg.mamba_dt_rank_size()),
      dropout_(static_cast<float>(cfg.dropout)) {
  if (K_ < 1) fail("{}: mamba_d_conv = {} must be ≥ 1", prefix, K_);
  const float std = static_cast<float>(cfg.init_std);
  // Registration order = state-dict order of the reference (reference/mixers_ssm.py).
  in_proj = p.add(prefix + "in_proj.weight", {2 * d_in_, C_}, Init::normal(std));
  conv_w = p.add(prefix + "conv1d.weight", {d_in_, 1, K_},
                 Init::uniform(1.f / std::sqrt(static_cast<float>(K_))));
  conv_b = p.add(prefix + "conv1d.bias", {d_in_},
                 Init::uniform(1.f / std::sqrt(static_cast<float>(K_))));
  x_proj = p.add(prefix + "x_proj.weight", {R_ + 2 * N_, d_in_}, Init::normal(std));
  dt_w = p.add(prefix + "dt_proj.weight", {d_in_, R_},
               Init::uniform(1.f / std::sqrt(static_cast<float>(R_))));
  dt_b = p.add(prefix + "dt_proj.bias", {d_in_}, Init::dt_bias(1e-3f, 0.1f, 1e-4f));
  A_log = p.add(prefix + "A_log", {d_in_, N_}, Init::from(a_log_init(d_in_, N_)));
  D = p.add(prefix + "D", {d_in_}, Init::constant(1.f));
  out_proj = p.add(prefix + "out_proj.weight", {C_, d_in_}, Init::normal(std));
}

Tensor Mamba::run(ForwardContext& ctx, const Tensor& x, MambaState* state) const {
  Tape& t = ctx.tape;
  const int64_t Tn = x.size(1);
  const std::vector<Tensor> xz = ops::split(t, linear(ctx, x, in_proj), {d_in_, d_in_}, -1);
  Tensor conv;
  if (state && K_ > 1) {
    // The cached K−1 rows of xs in front of the new ones; keep the last K−1 for next time.
    const Tensor full = ops::concat(t, {state->conv, xz[0]}, 1);
    conv = ops::slice(t, ops::depthwise_conv1d(t, full, conv_w, conv_b), 1, K_ - 1, K_ - 1 + Tn);
    state->conv = ops::slice(t, full, 1, Tn, Tn + K_ - 1);
  } else {
    conv = ops::depthwise_conv1d(t, xz[0], conv_w, conv_b);
  }
  const Tensor xc = ops::silu(t, conv);
  const std::vector<Tensor> dbc = ops::split(t, linear(ctx, xc, x_proj), {R_, N_, N_}, -1);
  const Tensor dt = linear(ctx, dbc[0], dt_w);  // nn::linear: a LoRA target (§12)
  const Tensor y =
      ops::selective_scan(t, xc, dt, dt_b, A_log, dbc[1], dbc[2], D, state ? state->h : Tensor());
  Tensor out = linear(ctx, ops::mul(t, y, ops::silu(t, xz[1])), out_proj);
  if (ctx.training && dropout_ > 0.f) out = ops::dropout(t, out, dropout_, *ctx.rng);
  return out;
}

Tensor Mamba::forward(ForwardContext& ctx, const Tensor& x) const {
  TINYR2_CHECK(x.dim() == 3 && x.size(2) == C_, "{}: x {} must be (B,T,{})", prefix(),
               shape_str(x.shape()), C_);
  return run(ctx, x, nullptr);
}

void MambaState::clear() {
  conv.fill(0.f);
  h.fill(0.f);
  length = 0;
}

std::unique_ptr<MixerState> Mamba::new_state() const {
  auto s = std::make_unique<MambaState>();
  s->conv = Tensor::zeros({1, K_ - 1, d_in_});
  s->h = Tensor::zeros({1, d_in_, N_});
  return s;
}

Tensor Mamba::forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                             int64_t pos0) const {
  TINYR2_CHECK(x_new.dim() == 3 && x_new.size(0) == 1 && x_new.size(2) == C_,
               "cached Mamba: x {} must be (1,T,{})", shape_str(x_new.shape()), C_);
  MambaState& s = state_as<MambaState>(state);
  TINYR2_CHECK(s.length == pos0, "{}: cache holds {} positions, not {}", prefix(), s.length, pos0);
  NoGradGuard ng(ctx.tape);
  Tensor out = run(ctx, x_new, &s);
  s.length = pos0 + x_new.size(1);
  return out;
}

double Mamba::flops_per_token(int64_t /*T*/) const {
  return static_cast<double>(30 * d_in_ * N_ + 6 * K_ * d_in_);
}

}  // namespace tinyr2::nn
