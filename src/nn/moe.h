// The MoE FFN layer: DeepSeek's (SPEC §2.4) and the routers of SPEC §11, with sparse
// dispatch.
//
// router "deepseek": expert 0 is shared and sees every token; the gate scores the E−1 routed
// experts, the top k−1 by p + expert_bias are chosen; the load-balance loss goes to
// ctx.balance_losses; expert_bias moves toward balance after each optimizer step.
// "topk" / "attention" (§11): E experts, none shared, top k of z (z from the gate or from the
// attention router), Switch's L_aux to ctx.balance_losses. "expert_choice": in training each
// expert takes its top `cap` tokens (not causal); in eval / inference token-choice top k
// with weights p. capacity_factor > 0 limits token-choice routers in training
// (position-major admission, nn/moe_router.h). Either way only chosen experts run: tokens are
// grouped per expert and each expert does one GEMM pair (MLP) or triple (GLU) on its rows.
#pragma once

#include <string>
#include <vector>

#include "core/index_tensor.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/glu.h"
#include "nn/mlp.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class DSMoE {
 public:
  DSMoE(Parameters& p, const std::string& prefix, const ModelConfig& cfg);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (B,T,C)

  // Tokens routed to each routed expert by training forwards since the last reset.
  const std::vector<int64_t>& routed_counts() const { return counts_; }
  void reset_counts();
  // Rows each expert (deepseek: 0 = shared) has computed in all forwards: proves sparse
  // dispatch.
  const std::vector<int64_t>& rows_computed() const { return rows_; }
  // expert_bias_i += expert_bias_rate · sign(mean(c) − c_i); nothing for the other routers.
  void update_bias(const std::vector<int64_t>& counts);
  // SPEC §11: (token, expert) assignments dropped by the capacity and all assignments, in
  // training forwards since the last reset (expert choice: tokens no expert took, tokens).
  int64_t dropped() const { return dropped_; }
  int64_t assignments() const { return assigned_; }
  bool capacity_limited() const { return capacity_factor_ > 0.0; }

  Router router() const { return router_; }
  // Parameters of the routed experts a token does not visit (for active-parameter counts).
  int64_t inactive_params_per_token() const;

  Tensor gate, expert_bias;             // deepseek / topk / expert_choice
  Tensor router_q, router_k, router_v;  // attention
  std::vector<MLP> experts;             // moe_expert "mlp"
  std::vector<GLU> glu_experts;         // moe_expert "glu"

 private:
  Tensor route_and_run(ForwardContext& ctx, const Tensor& xf, int64_t B, int64_t T) const;
  Tensor run_experts(ForwardContext& ctx, const Tensor& xf, const Tensor& w, const IndexTensor& idx,
                     int64_t first) const;

  Router router_;
  int64_t E_, k_;  // deepseek: experts incl. the shared one, active per token incl. it
  float gate_noise_, bias_rate_;
  double capacity_factor_;
  mutable std::vector<int64_t> counts_, rows_;
  mutable int64_t dropped_ = 0, assigned_ = 0;
};

}  // namespace tinyr2::nn
