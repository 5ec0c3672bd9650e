// The MoE routing of SPEC §11 beside DeepSeek's (§2.4): capacity, position-major admission,
// expert choice, the Switch auxiliary loss and Yuan 2.0-M32's attention router. nn/moe.cpp
// strings them together per `router`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "core/index_tensor.h"
#include "nn/config.h"
#include "nn/forward_context.h"

namespace tinyr2::nn {

// cap = ceil(capacity_factor · N · k / E), at most N (SPEC §11).
int64_t moe_capacity(double capacity_factor, int64_t N, int64_t k, int64_t E);

// Token-choice capacity (SPEC §11): idx (B·T, K), row n = b·T + t, holds each token's chosen
// experts in rank order. Assignments are admitted position-major — position 0 of every
// sequence, then position 1, …; within a position by batch row, within a token by rank — and
// an expert that already admitted `cap` loses the rest: their idx becomes −1. Returns how
// many were dropped. A token's fate depends on no later position.
int64_t admit_position_major(std::vector<int32_t>& idx, int64_t B, int64_t T, int64_t K,
                             int64_t cap);

// Expert choice in training (SPEC §11): expert e takes the `cap` tokens with the highest
// p[n, e] (ties: lower n). Returns idx (N, E) with idx[n, e] = e when e took n, else −1.
IndexTensor expert_choice(const float* p, int64_t N, int64_t E, int64_t cap);

// Switch's auxiliary loss L_aux = E · Σ_i f_i P_i (SPEC §11) from p (N, E) and the chosen
// experts (N, K, before any capacity drop): f_i = assignments to i / N (no gradient), P_i =
// mean over tokens of p_i. Shape {}.
Tensor switch_aux_loss(Tape& tape, const Tensor& p, const IndexTensor& chosen);

// Yuan 2.0-M32's attention router (SPEC §11): x (N, C), router.{q,k,v} weights (E, C) each →
// z (N, E) with z_i = Σ_j softmax_j(q_i k_j) v_j per token. q, k, v come from ONE product
// with the three weights' rows stacked (nn::stacked_linear: quantized and LoRA terms as for
// any linear), the attention from the fused op ops::router_attention.
Tensor attention_router_logits(ForwardContext& ctx, const Tensor& x, const Tensor& wq,
                               const Tensor& wk, const Tensor& wv);

// One line for `tinyr2 info` on the MoE routing of cfg (SPEC §11), or "" without MoE layers;
// for expert choice it says that training routing is not causal and eval / inference route
// token-choice.
std::string moe_routing_summary(const ModelConfig& cfg);

}  // namespace tinyr2::nn
