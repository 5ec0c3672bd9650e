// Top-k over the last dimension of x (R, n), no gradient:
//
//   values[r, 0..k) = the k largest x[r, :] in descending order, indices[r, :] their columns.
//
// Order: by value descending; equal values by column ASCENDING (ties go to the lower
// index, so an all-equal row gives 0, 1, …, k−1). The MoE router and the NSA block
// selection rely on this rule. NaN ranks above every number (as in torch.topk).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void topk_forward(const float* x, float* values, int32_t* indices, int64_t R, int64_t n, int64_t k);

}  // namespace tinyr2::kernels::cpu
