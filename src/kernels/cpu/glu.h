// The gated linear unit of SPEC §11 (GLU FFN and GLU experts): y = act(a) ⊙ b, elementwise,
// with act one of kernels::GluActivation (kernels/params.h):
//   silu  a·σ(a)              act′ = σ(a)·(1 + a·(1 − σ(a)))
//   gelu  a·Φ(a) (erf form)   act′ = Φ(a) + a·φ(a)
//   relu  max(a, 0)           act′ = [a > 0]
//   sigmoid σ(a)              act′ = σ(a)·(1 − σ(a))
//   bilinear a (identity)     act′ = 1
// Backward from dy:  da += dy ⊙ b ⊙ act′(a),  db += dy ⊙ act(a)  (either may be null).
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

void glu_forward(const float* a, const float* b, float* y, int64_t n, GluActivation act);
void glu_backward(const float* a, const float* b, const float* dy, float* da, float* db, int64_t n,
                  GluActivation act);

// One element of the activation and its derivative (shared with the MoE experts kernel).
void glu_activation(const float* a, float* act, float* dact, int64_t n, GluActivation kind);

}  // namespace tinyr2::kernels::cpu
