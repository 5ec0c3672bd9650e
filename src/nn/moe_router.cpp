#include "nn/moe_router.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/ops.h"
#include "autograd/ops_router.h"
#include "core/error.h"
#include "nn/config.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

int64_t moe_capacity(double capacity_factor, int64_t N, int64_t k, int64_t E) {
  const double c = std::ceil(capacity_factor * static_cast<double>(N) * static_cast<double>(k) /
                             static_cast<double>(E));
  return std::min<int64_t>(N, static_cast<int64_t>(c));
}

int64_t admit_position_major(std::vector<int32_t>& idx, int64_t B, int64_t T, int64_t K,
                             int64_t cap) {
  TINYR2_CHECK(static_cast<int64_t>(idx.size()) == B * T * K, "admit: {} slots for {}·{}·{}",
               idx.size(), B, T, K);
  int32_t E = 0;
  for (int32_t e : idx) E = std::max(E, e + 1);
  std::vector<int64_t> used(static_cast<size_t>(E), 0);
  int64_t dropped = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < K; ++j) {
        int32_t& e = idx[static_cast<size_t>((b * T + t) * K + j)];
        if (e < 0) continue;
        if (used[static_cast<size_t>(e)] < cap) {
          ++used[static_cast<size_t>(e)];
        } else {
          e = -1;
          ++dropped;
        }
      }
  return dropped;
}

IndexTensor expert_choice(const float* p, int64_t N, int64_t E, int64_t cap) {
  IndexTensor idx({N, E}, std::vector<int32_t>(static_cast<size_t>(N * E), -1));
  std::vector<int32_t> order(static_cast<size_t>(N));
  for (int64_t e = 0; e < E; ++e) {
    std::iota(order.begin(), order.end(), 0);
    // A total order (p descending, then n ascending): the same choice on every run.
    std::partial_sort(order.begin(), order.begin() + cap, order.end(), [&](int32_t a, int32_t b) {
      const float pa = p[a * E + e], pb = p[b * E + e];
      return pa > pb || (pa == pb && a < b);
    });
    for (int64_t r = 0; r < cap; ++r)
      idx.data[static_cast<size_t>(order[r] * E + e)] = static_cast<int32_t>(e);
  }
  return idx;
}

Tensor switch_aux_loss(Tape& tape, const Tensor& p, const IndexTensor& chosen) {
  const int64_t N = p.size(0), E = p.size(1);
  Tensor f = Tensor::zeros({E});  // E · f_i, a constant
  for (int32_t e : chosen.data)
    if (e >= 0) f.data()[e] += static_cast<float>(E) / static_cast<float>(N);
  return ops::sum(tape, ops::mul(tape, ops::mean(tape, p, 0), f));
}

Tensor attention_router_logits(ForwardContext& ctx, const Tensor& x, const Tensor& wq,
                               const Tensor& wk, const Tensor& wv) {
  auto all_rows = [](const Tensor& w) { return ops::WeightRows{w, 0, w.size(0)}; };
  const Tensor qkv = stacked_linear(ctx, x, {{{all_rows(wq), all_rows(wk), all_rows(wv)}}})[0];
  return ops::router_attention(ctx.tape, qkv);  // (N, 3E) → (N, E)
}

std::string moe_routing_summary(const ModelConfig& cfg) {
  bool any = false;
  for (int64_t l = 0; l < cfg.n_layer; ++l) any = any || cfg.ffn_type(l) == FfnType::Moe;
  if (!any) return "";
  std::string s = fmt::format(
      "routing: {} ({} experts, {} per token, experts {}{})", router_name(cfg.router),
      cfg.n_experts, cfg.num_exp, cfg.moe_expert == MoeExpert::Glu ? "glu" : "mlp",
      cfg.capacity_factor > 0 ? fmt::format(", capacity_factor {}", cfg.capacity_factor) : "");
  if (cfg.router == Router::ExpertChoice)
    s += "; expert choice is not causal in training (each expert picks its tokens from the "
         "whole micro-batch); eval and inference route token-choice (top k by p, weights p)";
  else if (cfg.capacity_factor > 0)
    s += "; capacity applies in training only, position-major (causal)";
  return s;
}

}  // namespace tinyr2::nn
