// The routed experts of a MoE layer one at a time (SPEC §12 LoRA on MoE experts): the grouped
// kernel (ops::moe_experts) takes plain weight matrices, so when an expert carries an adapter
// each expert e runs MLP::forward (nn::linear, with its LoRA term) on the rows routed to it:
//   routed = Σ_e scatter_add(ĝ[rows of e] · expert_e(x[rows of e])).
#pragma once

#include <vector>

#include "core/index_tensor.h"
#include "nn/forward_context.h"
#include "nn/mlp.h"

namespace tinyr2::nn {

// Whether any routed expert (experts[1..]) has a LoRA adapter in ctx.
bool lora_on_routed_experts(const ForwardContext& ctx, const std::vector<MLP>& experts);

// xf (N,C), w (N,K) route weights, chosen (N,K) routed-expert indices (0 = experts[1]) →
// (N,C) Σ_k w[n,k] · experts[chosen[n,k]+1](xf[n]).
Tensor routed_experts_each(ForwardContext& ctx, const Tensor& xf, const Tensor& w,
                           const IndexTensor& chosen, const std::vector<MLP>& experts);

}  // namespace tinyr2::nn
