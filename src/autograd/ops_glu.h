// The gated linear unit act(a) ⊙ b of SPEC §11 (GLU FFN); kernel in kernels/cpu/glu.
#pragma once

#include "autograd/tape.h"
#include "kernels/params.h"

namespace tinyr2::ops {

// a, b of one shape → act(a) ⊙ b; saves a and b for backward.
Tensor glu(Tape& tape, const Tensor& a, const Tensor& b, kernels::GluActivation act);

}  // namespace tinyr2::ops
