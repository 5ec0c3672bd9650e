// Differentiable DSMoE routing ops (SPEC §2.4); kernels in kernels/cpu/moe.
#pragma once

#include "autograd/tape.h"
#include "core/index_tensor.h"

namespace tinyr2::ops {

// p (N,E) routing probabilities, idx (N,K) chosen experts → ĝ (N,K): p at the chosen
// experts, divided by their sum when `normalize`.
Tensor moe_route_weights(Tape& tape, const Tensor& p, const IndexTensor& idx, bool normalize);

// Load-balance loss (scalar, shape {}) from ĝ (N,K), idx (N,K), E routed experts, and the
// router-weight factor c = (k−1)/k.
Tensor moe_balance_loss(Tape& tape, const Tensor& w, const IndexTensor& idx, int64_t E, float c);

}  // namespace tinyr2::ops
