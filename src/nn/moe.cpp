#include "nn/moe.h"

#include "autograd/ops.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "nn/lora_moe.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

DSMoE::DSMoE(Parameters& p, const std::string& prefix, const ModelConfig& cfg)
    : gate(p.add(prefix + "gate.weight", {cfg.n_experts - 1, cfg.n_embd},
                 Init::normal(static_cast<float>(cfg.init_std)))),
      expert_bias(p.add(prefix + "expert_bias", {cfg.n_experts - 1}, Init::constant(0.f), true)),
      E_(cfg.n_experts),
      k_(cfg.num_exp),
      gate_noise_(static_cast<float>(cfg.gate_noise)),
      bias_rate_(static_cast<float>(cfg.expert_bias_rate)),
      counts_(static_cast<size_t>(cfg.n_experts - 1), 0),
      rows_(static_cast<size_t>(cfg.n_experts), 0) {
  for (int64_t e = 0; e < E_; ++e)
    experts.emplace_back(p, prefix + "experts." + std::to_string(e) + ".", cfg.n_embd,
                         cfg.moe_hidden_size(), static_cast<float>(cfg.dropout),
                         static_cast<float>(cfg.init_std));
}

Tensor DSMoE::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t C = x.size(-1), N = x.numel() / C, R = E_ - 1, K = k_ - 1;
  const Tensor xf = ops::reshape(t, x, {N, C});

  // 1. Gate over the routed experts, multiplicative noise in training.
  Tensor z = ops::linear(t, xf, gate);  // (N, R)
  if (ctx.training && ctx.gate_noise && gate_noise_ > 0.f) {
    TINYR2_CHECK(ctx.rng, "DSMoE: training with gate noise needs ctx.rng");
    Tensor factor = Tensor::empty({N, R});
    ctx.rng->uniform(factor.data(), factor.numel(), 1.f - gate_noise_ / 2, 1.f + gate_noise_ / 2);
    z = ops::mul(t, z, factor);
  }
  const Tensor p = ops::softmax(t, z);

  // 2. Choose the top K by p + expert_bias (the bias only chooses; ties → lower index).
  IndexTensor chosen;
  {
    Tensor score = Tensor::empty({N, R});
    const float* pp = p.data();
    const float* b = expert_bias.data();
    float* s = score.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t e = 0; e < R; ++e) s[n * R + e] = pp[n * R + e] + b[e];
    chosen = ops::topk(t, score, K).second;  // (N, K)
  }

  // 3. Weights from the unbiased p; 5. the load-balance loss from the router weights.
  const Tensor w = ops::moe_route_weights(t, p, chosen, K >= 2);  // (N, K)
  const float c_routed = static_cast<float>(K) / static_cast<float>(k_);
  ctx.balance_losses.push_back(ops::moe_balance_loss(t, w, chosen, R, c_routed));

  // 4. y = expert_0(x)/k + (k−1)/k · Σ_chosen ĝ_i expert_i(x), only chosen experts run.
  Tensor y = ops::scale(t, experts[0].forward(ctx, xf), 1.f / static_cast<float>(k_));
  rows_[0] += N;
  std::vector<int64_t> n_e(static_cast<size_t>(R), 0);
  for (int32_t e : chosen.data) ++n_e[static_cast<size_t>(e)];
  std::vector<Tensor> w_fc, w_proj;
  for (int64_t e = 0; e < R; ++e) {
    if (ctx.training) counts_[e] += n_e[e];
    rows_[e + 1] += n_e[e];  // an unchosen expert does no work at all
    w_fc.push_back(experts[e + 1].c_fc);
    w_proj.push_back(experts[e + 1].c_proj);
  }
  // The experts' dropout (MLP::forward) as one mask over the routed rows.
  const float p_drop = experts[1].dropout();
  Tensor mask;
  if (ctx.training && p_drop > 0.f) {
    TINYR2_CHECK(ctx.rng, "DSMoE: training with dropout needs ctx.rng");
    mask = ops::dropout_mask({N * K, C}, p_drop, *ctx.rng);
  }
  Tensor routed;
  if (lora_on_routed_experts(ctx, experts)) {  // SPEC §12: adapters on the experts
    routed = routed_experts_each(ctx, xf, w, chosen, experts);
  } else if (quantized(ctx, w_fc[0]) || quantized(ctx, w_proj[0])) {  // a quantized GGUF model: §13
    std::vector<const kernels::QuantizedMatrix*> q_fc, q_proj;
    for (int64_t e = 0; e < R; ++e) {
      q_fc.push_back(quantized(ctx, w_fc[e]));
      q_proj.push_back(quantized(ctx, w_proj[e]));
    }
    routed = ops::quant_moe_experts(xf, w, chosen, q_fc, q_proj, w_fc, w_proj, ctx.quantized->path);
  } else {
    routed = ops::moe_experts(t, xf, w, chosen, w_fc, w_proj, mask);
  }
  y = ops::add(t, y, ops::scale(t, routed, c_routed));
  return ops::reshape(t, y, x.shape());
}

void DSMoE::reset_counts() {
  std::fill(counts_.begin(), counts_.end(), 0);
}

void DSMoE::update_bias(const std::vector<int64_t>& counts) {
  TINYR2_CHECK(static_cast<int64_t>(counts.size()) == E_ - 1,
               "update_bias: {} counts for {} experts", counts.size(), E_ - 1);
  kernels::backend(expert_bias.device())
      .moe_update_bias(expert_bias.data(), counts.data(), E_ - 1, bias_rate_);
}

}  // namespace tinyr2::nn
