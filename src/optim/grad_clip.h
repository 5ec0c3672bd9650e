// Global gradient-norm clipping (SPEC §6 "Step"; torch.nn.utils.clip_grad_norm_).
//
//   norm = sqrt(Σ over every given gradient of Σ g²)       (accumulated in double)
//   if norm > max_norm:  g ← g · max_norm / (norm + 1e-6)   for every gradient
//
// Returns the pre-clip norm. Parameters whose .grad() is undefined are skipped. Two
// departures from torch, both deliberate: a non-finite norm (NaN/inf) is returned without
// touching the gradients (the caller decides: report it, skip the step); and max_norm ≤ 0
// means "no clipping" (torch would zero every gradient). The sum runs in fixed chunks, so
// the norm does not depend on the thread count.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "optim/muon.h"  // NamedParams

namespace tinyr2::optim {

// sqrt(Σ_params Σ_i grad_i²) over the defined gradients.
double grad_norm(const std::vector<Tensor>& params);

// Clips the gradients of `params` in place as above; returns the pre-clip norm.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
double clip_grad_norm(const NamedParams& params, double max_norm);

}  // namespace tinyr2::optim
