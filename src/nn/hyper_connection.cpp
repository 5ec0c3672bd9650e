#include "nn/hyper_connection.h"

#include "autograd/ops.h"

namespace tinyr2::nn {

namespace {
std::vector<float> one_hot_logits(int64_t S, int64_t r, float on, float off) {
  std::vector<float> v(static_cast<size_t>(S), off);
  v[static_cast<size_t>(r)] = on;
  return v;
}
}  // namespace

HyperConnection::HyperConnection(Parameters& p, const std::string& prefix, const ModelConfig& cfg,
                                 int64_t layer_index)
    : mhc_(cfg.mhc),
      proj_(cfg.mhc_h_res_proj),
      S_(cfg.hc_num_streams),
      C_(cfg.n_embd),
      tau_(cfg.sinkhorn_tau),
      ns_eps_(cfg.ns_eps),
      sinkhorn_iters_(cfg.sinkhorn_iters),
      ns_steps_(cfg.ns_steps),
      ns_coeffs_(cfg.ns_coeffs) {
  const int64_t S = S_, r = layer_index % S;
  if (mhc_) {
    std::vector<float> res(static_cast<size_t>(S * S));
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j)
        res[i * S + j] = proj_ == HResProj::Sinkhorn ? (i == j ? 0.f : -8.f) : (i == j ? 1.f : 0.f);
    H_res_logits = p.add(prefix + "H_res_logits", {S, S}, Init::from(res));
    H_pre_logits = p.add(prefix + "H_pre_logits", {S}, Init::from(one_hot_logits(S, r, 0.f, -8.f)));
    H_post_logits = p.add(prefix + "H_post_logits", {S}, Init::constant(0.f));
  } else {
    std::vector<float> alpha(static_cast<size_t>(S * (S + 1)), 0.f);  // [e_r ‖ I]
    for (int64_t s = 0; s < S; ++s) {
      alpha[s * (S + 1)] = s == r ? 1.f : 0.f;
      alpha[s * (S + 1) + 1 + s] = 1.f;
    }
    static_alpha = p.add(prefix + "static_alpha", {S, S + 1}, Init::from(alpha));
    dynamic_alpha_fn = p.add(prefix + "dynamic_alpha_fn", {C_, S + 1}, Init::constant(0.f));
    dynamic_alpha_scale = p.add(prefix + "dynamic_alpha_scale", {}, Init::constant(0.01f));
    static_beta = p.add(prefix + "static_beta", {S}, Init::constant(1.f));
    dynamic_beta_fn = p.add(prefix + "dynamic_beta_fn", {C_}, Init::constant(0.f));
    dynamic_beta_scale = p.add(prefix + "dynamic_beta_scale", {}, Init::constant(0.01f));
    norm_gamma = p.add(prefix + "norm.gamma", {C_}, Init::constant(0.f));
  }
}

Tensor HyperConnection::forward(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                                const Branch& branch) const {
  Tape& t = ctx.tape;
  const int64_t N = R.size(0), S = S_, C = C_;
  if (mhc_) {
    // u = Σ_s H_pre[s] R_s;  h = branch(u);  R'_t = Σ_s H_res[s,t] R_s + H_post[t] h
    const Tensor h_pre = ops::reshape(t, ops::softmax(t, H_pre_logits), {S, 1});
    const Tensor u = ops::reshape(t, ops::stream_mix(t, R, h_pre), btc);
    const Tensor h = branch(u);
    const Tensor h_res =
        proj_ == HResProj::Sinkhorn
            ? ops::sinkhorn(t, H_res_logits, tau_, sinkhorn_iters_)
            : ops::orthostochastic(t, H_res_logits, ns_steps_, ns_eps_, ns_coeffs_);
    const Tensor h_post = ops::reshape(t, ops::softmax(t, H_post_logits), {1, S});
    return ops::add(t, ops::stream_mix(t, R, h_res),
                    ops::stream_mix(t, ops::reshape(t, h, {N, 1, C}), h_post));
  }
  // Dynamic HC. N_s = R_s / ‖R_s‖ · sqrt(C) · (γ + 1) is an RMSNorm with weight γ + 1 (its
  // eps stands in for the 1e-12 floor on ‖R_s‖).
  const Tensor normed = ops::rmsnorm(t, R, ops::add_scalar(t, norm_gamma, 1.f), 1e-30f);
  const Tensor alpha = ops::add(
      t, ops::mul(t, ops::tanh(t, ops::matmul(t, normed, dynamic_alpha_fn)), dynamic_alpha_scale),
      static_alpha);                                // (N, S, S+1)
  const Tensor mix = ops::stream_mix(t, R, alpha);  // (N, S+1, C)
  const Tensor h = branch(ops::reshape(t, ops::slice(t, mix, 1, 0, 1), btc));
  const Tensor beta = ops::add(
      t,
      ops::mul(t, ops::tanh(t, ops::matmul(t, normed, ops::reshape(t, dynamic_beta_fn, {C, 1}))),
               dynamic_beta_scale),
      ops::reshape(t, static_beta, {S, 1}));  // (N, S, 1)
  return ops::add(
      t, ops::slice(t, mix, 1, 1, S + 1),
      ops::stream_mix(t, ops::reshape(t, h, {N, 1, C}), ops::reshape(t, beta, {N, 1, S})));
}

}  // namespace tinyr2::nn
