// DeepSeek-style MoE with a shared expert and sparse dispatch (SPEC §2.4).
//
// Expert 0 is shared and sees every token; the gate scores the E−1 routed experts, the
// top k−1 by p + expert_bias are chosen, and only those run: tokens are grouped per expert
// and each expert does one GEMM pair on its rows. The load-balance loss goes to
// ctx.balance_losses; expert_bias moves toward balance after each optimizer step.
#pragma once

#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/forward_context.h"
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
  // Rows each expert (0 = shared) has computed in all forwards: proves sparse dispatch.
  const std::vector<int64_t>& rows_computed() const { return rows_; }
  // expert_bias_i += expert_bias_rate · sign(mean(c) − c_i).
  void update_bias(const std::vector<int64_t>& counts);

  Tensor gate, expert_bias;
  std::vector<MLP> experts;

 private:
  int64_t E_, k_;  // experts incl. the shared one; active per token incl. the shared one
  float gate_noise_, bias_rate_;
  mutable std::vector<int64_t> counts_, rows_;
};

}  // namespace tinyr2::nn
