// The plain parameter structs of the backend entries (kernels/backend.h) that are not
// broadcasting (kernels/broadcast.h) or NSA geometry (kernels/nsa_params.h): host-side data
// every backend's kernels take, no device.
#pragma once

#include <cstdint>
#include <vector>

namespace tinyr2::kernels {

// One output of a stacked projection (kernels/cpu/nsa_fused.h): a column block of Y = X·W_catᵀ.
struct ColumnBlock {
  int64_t col, width;               // columns [col, col + width) of the stacked matrix
  int64_t heads = 0, rope_dim = 0;  // RoPE on the last rope_dim entries of each head slice
};

// The MoE dispatch (kernels/cpu/moe_experts.h, SPEC §2.4): token n's K slots s = n·K + j
// sorted by expert into M = N·K rows; rows offsets[e] … offsets[e+1]−1 belong to expert e.
struct MoeDispatch {
  int64_t N = 0, K = 0, E = 0;   // tokens, slots per token, routed experts
  std::vector<int64_t> offsets;  // E + 1
  std::vector<int32_t> token;    // M: the token of row i
  std::vector<int32_t> slot;     // M: the slot (n·K + j) of row i
  std::vector<int32_t> pos;      // M: the row of slot s

  int64_t rows() const { return N * K; }
  int64_t rows_of(int64_t e) const { return offsets[e + 1] - offsets[e]; }
};

// The quintic of Newton–Schulz (kernels/cpu/newton_schulz.h; Muon's coefficients, SPEC §6).
struct NewtonSchulzCoeffs {
  float a = 3.4445f, b = -4.7750f, c = 2.0315f;
};

// One AdamW step's scalars (SPEC §6; optim/adamw.cpp forms them in double, per parameter):
//   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²;  p = p·decay − step_size·m / (√v / bc2_sqrt + eps)
struct AdamWStep {
  float b1, b2, one_minus_b1, one_minus_b2, eps;
  float decay;      // 1 − lr·weight_decay, or 1 for parameters that do not decay
  float step_size;  // lr / (1 − b1^t)
  float bc2_sqrt;   // √(1 − b2^t)
};

}  // namespace tinyr2::kernels
