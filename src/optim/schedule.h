// The learning-rate schedule (SPEC §6): linear warmup, then cosine decay to min_lr.
// Steps are 0-based optimizer steps (step 0 is the first update).
//
//   lr_at(e) = lr · (e + 1) / W                                   e < W
//            = min_lr + ½ (1 + cos(π (e − W) / (N − W))) (lr − min_lr)   W ≤ e < N
//            = min_lr                                             e ≥ N
//
// with W = warmup, N = max_iters (nanoGPT's get_lr; the first step after warmup is lr
// itself). Muon's rate follows the same multiplier: muon_lr · lr_multiplier(e), with
// lr_multiplier(e) = lr_at(e) / lr.
#pragma once

#include <cstdint>

namespace tinyr2::optim {

// The AdamW learning rate at `step`. warmup ≥ 0; max_iters ≥ 0.
double lr_at(int64_t step, double lr, double min_lr, int64_t warmup, int64_t max_iters);

// lr_at(step, …) / lr: the factor Muon's rate is multiplied by. When lr is 0 (no ratio to
// follow) it is the same shape with min_lr / lr taken as 0: warmup, then cosine to 0.
double lr_multiplier(int64_t step, double lr, double min_lr, int64_t warmup, int64_t max_iters);

}  // namespace tinyr2::optim
