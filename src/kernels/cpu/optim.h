// The optimizer updates (SPEC §6), elementwise over one parameter's n floats. The scalars
// are formed by optim/ (in double, per step); these are the loops. No gradient.
//
//   adamw_update     m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²
//                    p = p·decay − step_size·m / (√v / bc2_sqrt + eps)        (kernels/params.h)
//   muon_momentum    m = β·m + (1−β)·g;    u = (1−β)·g + β·m   (Nesterov: the update direction)
//   scaled_update    p = p·decay − alpha·u                      (Muon's step after Newton–Schulz)
//   scale_in_place   x = s·x                                    (gradient clipping)
//
// The gradient norm's Σ x² is sum_squares (newton_schulz.h). Every loop is OpenMP-parallel
// above a size threshold; each element is computed alone, so the result does not depend on
// the thread count.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s);
void muon_momentum(const float* g, float* m, float* u, int64_t n, float beta, float one_minus_beta);
void scaled_update(float* p, const float* u, int64_t n, float decay, float alpha);
void scale_in_place(float* x, int64_t n, float s);

}  // namespace tinyr2::kernels::cpu
