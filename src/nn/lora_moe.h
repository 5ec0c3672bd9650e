// The routed experts of a MoE layer one at a time (SPEC §12 LoRA on MoE experts): the grouped
// kernel (ops::moe_experts) takes plain weight matrices, so when an expert carries an adapter
// each expert e runs its own forward (nn::linear, with its LoRA term) on the rows routed to it:
//   routed = Σ_e scatter_add(ĝ[rows of e] · expert_e(x[rows of e])).
#pragma once

#include <functional>
#include <vector>

#include "core/index_tensor.h"
#include "nn/forward_context.h"

namespace tinyr2::nn {

// Whether any of `weights` has a LoRA adapter in ctx.
bool any_lora(const ForwardContext& ctx, const std::vector<Tensor>& weights);

// Runs expert e (0 ≤ e < R) on the rows x (M,C) routed to it → (M,C).
using ExpertForward = std::function<Tensor(ForwardContext& ctx, int64_t e, const Tensor& x)>;

// xf (N,C), w (N,K) route weights, chosen (N,K) expert indices in [0, R) or −1 (an assignment
// capacity dropped: it adds nothing) → (N,C) Σ_k w[n,k] · expert_{chosen[n,k]}(xf[n]).
Tensor routed_experts_each(ForwardContext& ctx, const Tensor& xf, const Tensor& w,
                           const IndexTensor& chosen, int64_t R, const ExpertForward& expert);

}  // namespace tinyr2::nn
