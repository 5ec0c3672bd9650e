// Differentiable DSMoE routing ops (SPEC §2.4); kernels in kernels/cpu/moe.
#pragma once

#include <vector>
#include "autograd/tape.h"

#include "core/index_tensor.h"
#include "kernels/params.h"

namespace tinyr2::ops {

// p (N,E) routing probabilities, idx (N,K) chosen experts → ĝ (N,K): p at the chosen
// experts, divided by their sum when `normalize`.
Tensor moe_route_weights(Tape& tape, const Tensor& p, const IndexTensor& idx, bool normalize);

// Load-balance loss (scalar, shape {}) from ĝ (N,K), idx (N,K), E routed experts, and the
// router-weight factor c = (k−1)/k.
Tensor moe_balance_loss(Tape& tape, const Tensor& w, const IndexTensor& idx, int64_t E, float c);

// The routed experts of a DSMoE layer in one op (kernels/cpu/moe_experts, the dispatch
// kernel): x (N, C), gate weights g (N, K) and chosen experts idx (N, K) → (N, C) with
//   out[n] = Σ_j g[n,j] · mask_row ⊙ (relu(x[n] · W_fc[e]ᵀ)² · W_proj[e]ᵀ),  e = idx[n,j],
// w_fc[e] (H, C) and w_proj[e] (C, H) for e < E = w_fc.size(). mask is undefined or
// (N·K, C), one row per (token, slot) in the kernel's dispatch order (by expert, then
// token) — a dropout mask of kept/(1−p) and 0. Only experts some token chose get a gradient.
// SPEC §11: an idx entry −1 routes that slot nowhere (adds 0, gets no gradient), and the
// mask then has one row per routed slot. With w_up (one per expert, (H, C)) the experts are
// GLUs: w_fc is c_gate and out[n] = Σ_j g · (act(x·W_fcᵀ) ⊙ x·W_upᵀ) · W_projᵀ.
Tensor moe_experts(Tape& tape, const Tensor& x, const Tensor& g, const IndexTensor& idx,
                   const std::vector<Tensor>& w_fc, const std::vector<Tensor>& w_proj,
                   const Tensor& mask = Tensor(), const std::vector<Tensor>& w_up = {},
                   kernels::GluActivation act = kernels::GluActivation::Silu);

}  // namespace tinyr2::ops
