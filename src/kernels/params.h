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

// The activation of a gated linear unit act(a) ⊙ b (kernels/cpu/glu.h; SPEC §11).
enum class GluActivation { Silu, Gelu, Relu, Sigmoid, Bilinear };

// The MoE dispatch (kernels/cpu/moe_experts.h, SPEC §2.4): token n's K slots s = n·K + j
// sorted by expert into M = N·K rows; rows offsets[e] … offsets[e+1]−1 belong to expert e.
struct MoeDispatch {
  int64_t N = 0, K = 0, E = 0;   // tokens, slots per token, routed experts
  std::vector<int64_t> offsets;  // E + 1
  std::vector<int32_t> token;    // M: the token of row i
  std::vector<int32_t> slot;     // M: the slot (n·K + j) of row i
  std::vector<int32_t> pos;      // N·K: the row of slot s, −1 for a slot that routes nowhere

  // M: the rows of all experts (N·K less the slots with expert −1, SPEC §11 drops).
  int64_t rows() const { return offsets.empty() ? 0 : offsets.back(); }
  int64_t rows_of(int64_t e) const { return offsets[e + 1] - offsets[e]; }
};

// The expert FFN: the MLP (w_up empty) or a GLU with activation `act` (w_up of size E).
struct MoeExpertWeights {
  std::vector<const float*> w_fc, w_up, w_proj;  // per expert; null for experts without rows
  GluActivation act = GluActivation::Silu;
  // The products' precision (SPEC §13, the tape's): bf16 operands with fp32 accumulation,
  // natively (AVX512_BF16) or emulated; else fp32.
  bool bf16 = false, bf16_native = false;
  bool glu() const { return !w_up.empty(); }
};

// The gradients of the expert weights, per expert (null entries skipped; dw_up empty for
// MLP experts): accumulated (+=), or overwritten where beta is 0 (a new, uninitialised
// gradient; betas are 0 or 1).
struct MoeExpertGrads {
  std::vector<float*> dw_fc, dw_up, dw_proj;
  std::vector<float> beta_fc, beta_up, beta_proj;
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
