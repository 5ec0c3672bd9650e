#include "nn/moe.h"

#include "autograd/ops.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "nn/lora_moe.h"
#include "nn/moe_router.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

namespace {

// The router's weights: DSMoE's gate scores E−1 routed experts, the others' E.
int64_t gate_rows(const ModelConfig& cfg) {
  return cfg.router == Router::Deepseek ? cfg.n_experts - 1 : cfg.n_experts;
}

}  // namespace

DSMoE::DSMoE(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : router_(cfg.router),
      E_(cfg.n_experts),
      k_(cfg.num_exp),
      gate_noise_(static_cast<float>(cfg.gate_noise)),
      bias_rate_(static_cast<float>(cfg.expert_bias_rate)),
      capacity_factor_(cfg.capacity_factor),
      counts_(static_cast<size_t>(gate_rows(cfg)), 0),
      rows_(static_cast<size_t>(cfg.n_experts), 0) {
  const Init normal = Init::normal(static_cast<float>(cfg.init_std));
  if (router_ == Router::Attention) {  // SPEC §11: ffn.router.{q,k,v}.weight, each E×C
    router_q = p.add(prefix + "router.q.weight", {E_, cfg.n_embd}, normal);
    router_k = p.add(prefix + "router.k.weight", {E_, cfg.n_embd}, normal);
    router_v = p.add(prefix + "router.v.weight", {E_, cfg.n_embd}, normal);
  } else {
    gate = p.add(prefix + "gate.weight", {gate_rows(cfg), cfg.n_embd}, normal);
  }
  if (router_ == Router::Deepseek)
    expert_bias = p.add(prefix + "expert_bias", {E_ - 1}, Init::constant(0.f), true);
  for (int64_t e = 0; e < E_; ++e) {
    const std::string ep = prefix + "experts." + std::to_string(e) + ".";
    if (cfg.moe_expert == MoeExpert::Glu)
      glu_experts.emplace_back(p, ep, cfg.n_embd, cfg.moe_hidden_size(), cfg.glu_activation,
                               static_cast<float>(cfg.dropout));
    else
      experts.emplace_back(p, ep, cfg.n_embd, cfg.moe_hidden_size(),
                           static_cast<float>(cfg.dropout), static_cast<float>(cfg.init_std));
  }
}

Tensor DSMoE::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t C = x.size(-1), N = x.numel() / C;
  const int64_t B = x.dim() == 3 ? x.size(0) : 1, T = N / B;
  const Tensor y = route_and_run(ctx, ops::reshape(t, x, {N, C}), B, T);
  return ops::reshape(t, y, x.shape());
}

// The experts first … first+R−1 on the slots idx (N, K) with weights w (N, K); −1 slots run
// nothing. One grouped dispatch (ops::moe_experts) for MLP and GLU experts alike.
Tensor DSMoE::run_experts(ForwardContext& ctx, const Tensor& xf, const Tensor& w,
                          const IndexTensor& idx, int64_t first) const {
  Tape& t = ctx.tape;
  const int64_t C = xf.size(1), R = E_ - first;
  const bool glu = !glu_experts.empty();
  std::vector<int64_t> n_e(static_cast<size_t>(R), 0);
  int64_t M = 0;
  for (int32_t e : idx.data)
    if (e >= 0) ++n_e[static_cast<size_t>(e)], ++M;
  std::vector<Tensor> w_fc, w_up, w_proj;
  for (int64_t e = 0; e < R; ++e) {
    if (!ctx.replay) rows_[e + first] += n_e[e];  // an unchosen expert does no work at all
    if (glu) {
      const GLU& g = glu_experts[static_cast<size_t>(e + first)];
      w_fc.push_back(g.c_gate);
      w_up.push_back(g.c_up);
      w_proj.push_back(g.c_proj);
    } else {
      w_fc.push_back(experts[static_cast<size_t>(e + first)].c_fc);
      w_proj.push_back(experts[static_cast<size_t>(e + first)].c_proj);
    }
  }
  // The experts' dropout (MLP::forward) as one mask over the routed rows.
  const float p_drop = glu ? 0.f : experts[static_cast<size_t>(first)].dropout();
  const float p_drop_any = glu ? glu_experts[0].dropout() : p_drop;
  Tensor mask;
  if (ctx.training && p_drop_any > 0.f) {
    TINYR2_CHECK(ctx.rng, "MoE: training with dropout needs ctx.rng");
    mask = ops::dropout_mask({M, C}, p_drop_any, *ctx.rng);
  }
  if (any_lora(ctx, w_fc) || any_lora(ctx, w_up) || any_lora(ctx, w_proj))  // §12: adapters
    return routed_experts_each(
        ctx, xf, w, idx, R, [&](ForwardContext& c, int64_t e, const Tensor& xe) {
          const auto i = static_cast<size_t>(e + first);
          return glu ? glu_experts[i].forward(c, xe) : experts[i].forward(c, xe);
        });
  if (quantized(ctx, w_fc[0]) || quantized(ctx, w_proj[0])) {  // a quantized GGUF model: §13
    if (glu) fail("a quantized GGUF model with GLU experts (moe_expert \"glu\") is not supported");
    std::vector<const kernels::QuantizedMatrix*> q_fc, q_proj;
    for (int64_t e = 0; e < R; ++e) {
      q_fc.push_back(quantized(ctx, w_fc[e]));
      q_proj.push_back(quantized(ctx, w_proj[e]));
    }
    return ops::quant_moe_experts(xf, w, idx, q_fc, q_proj, w_fc, w_proj, ctx.quantized->path);
  }
  const kernels::GluActivation act =
      glu ? glu_experts[0].activation() : kernels::GluActivation::Silu;
  return ops::moe_experts(t, xf, w, idx, w_fc, w_proj, mask, w_up, act);
}

Tensor DSMoE::route_and_run(ForwardContext& ctx, const Tensor& xf, int64_t B, int64_t T) const {
  Tape& t = ctx.tape;
  const int64_t N = xf.size(0);
  const bool ds = router_ == Router::Deepseek;
  const int64_t R = ds ? E_ - 1 : E_, K = ds ? k_ - 1 : k_;

  // 1. Router logits (SPEC §2.4 / §11), multiplicative noise in training.
  Tensor z = router_ == Router::Attention
                 ? attention_router_logits(ctx, xf, router_q, router_k, router_v)
                 : linear(ctx, xf, gate);  // (N, R)
  if (ctx.training && ctx.gate_noise && gate_noise_ > 0.f) {
    TINYR2_CHECK(ctx.rng, "MoE: training with gate noise needs ctx.rng");
    Tensor factor = Tensor::empty({N, R});
    ctx.rng->uniform(factor.data(), factor.numel(), 1.f - gate_noise_ / 2, 1.f + gate_noise_ / 2);
    z = ops::mul(t, z, factor);
  }
  const Tensor p = ops::softmax(t, z);

  // 2. The choice. Expert choice in training: each expert its top `cap` tokens (§11).
  if (router_ == Router::ExpertChoice && ctx.training) {
    const IndexTensor idx =
        expert_choice(p.data(), N, E_, moe_capacity(capacity_factor_, N, k_, E_));
    int64_t untaken = 0;
    for (int64_t n = 0; n < N; ++n) {
      bool any = false;
      for (int64_t e = 0; e < E_; ++e) {
        const int32_t c = idx.data[static_cast<size_t>(n * E_ + e)];
        any = any || c >= 0;
        if (c >= 0 && !ctx.replay) ++counts_[static_cast<size_t>(e)];
      }
      untaken += !any;
    }
    if (!ctx.replay) dropped_ += untaken, assigned_ += N;
    return run_experts(ctx, xf, ops::moe_route_weights(t, p, idx, false), idx, 0);
  }
  IndexTensor chosen;
  if (ds) {  // the top K by p + expert_bias (the bias only chooses; ties → lower index)
    Tensor score = Tensor::empty({N, R});
    const float* pp = p.data();
    const float* b = expert_bias.data();
    float* s = score.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < R; ++e) s[n * R + e] = pp[n * R + e] + b[e];
    chosen = ops::topk(t, score, K).second;  // (N, K)
  } else {                                   // §11: the top k of z (ties → lower index)
    chosen = ops::topk(t, z, K).second;
  }

  // 3. Weights: ĝ = p / Σ_chosen p for K ≥ 2, p for K = 1; expert choice in eval: p.
  const bool normalize = K >= 2 && router_ != Router::ExpertChoice;
  const Tensor w = ops::moe_route_weights(t, p, chosen, normalize);  // (N, K)
  const float c_routed = static_cast<float>(K) / static_cast<float>(k_);
  if (ds)
    ctx.balance_losses.push_back(ops::moe_balance_loss(t, w, chosen, R, c_routed));
  else if (router_ != Router::ExpertChoice)
    ctx.balance_losses.push_back(switch_aux_loss(t, p, chosen));

  // Capacity (§11, training): position-major admission; a rejected assignment adds 0.
  IndexTensor idx = chosen;
  if (ctx.training && capacity_factor_ > 0.0) {
    const int64_t cap = moe_capacity(capacity_factor_, N, K, R);
    const int64_t dropped = admit_position_major(idx.data, B, T, K, cap);
    if (!ctx.replay) dropped_ += dropped;
  }
  if (ctx.training && !ctx.replay) {
    assigned_ += N * K;
    for (int32_t e : chosen.data) ++counts_[static_cast<size_t>(e)];
  }

  if (!ds) return run_experts(ctx, xf, w, idx, 0);
  // 4. y = expert_0(x)/k + (k−1)/k · Σ_chosen ĝ_i expert_i(x), only chosen experts run.
  const Tensor shared =
      glu_experts.empty() ? experts[0].forward(ctx, xf) : glu_experts[0].forward(ctx, xf);
  Tensor y = ops::scale(t, shared, 1.f / static_cast<float>(k_));
  if (!ctx.replay) rows_[0] += N;
  const Tensor routed = run_experts(ctx, xf, w, idx, 1);
  return ops::add(t, y, ops::scale(t, routed, c_routed));
}

void DSMoE::reset_counts() {
  std::fill(counts_.begin(), counts_.end(), 0);
  dropped_ = assigned_ = 0;
}

void DSMoE::update_bias(const std::vector<int64_t>& counts) {
  if (router_ != Router::Deepseek) return;  // SPEC §11: no expert bias
  TINYR2_CHECK(static_cast<int64_t>(counts.size()) == E_ - 1,
               "update_bias: {} counts for {} experts", counts.size(), E_ - 1);
  kernels::backend(expert_bias.device())
      .moe_update_bias(expert_bias.data(), counts.data(), E_ - 1, bias_rate_);
}

int64_t DSMoE::inactive_params_per_token() const {
  const int64_t per_expert = glu_experts.empty()
                                 ? experts[0].c_fc.numel() + experts[0].c_proj.numel()
                                 : glu_experts[0].c_gate.numel() + glu_experts[0].c_up.numel() +
                                       glu_experts[0].c_proj.numel();
  return router_ == Router::Deepseek ? per_expert * ((E_ - 1) - (k_ - 1)) : per_expert * (E_ - k_);
}

}  // namespace tinyr2::nn
