// Inverted dropout: each element kept with probability 1−p and scaled by 1/(1−p); the mask
// comes from the caller's seeded Rng, so a run is reproducible for any thread count.
#pragma once

#include "autograd/tape.h"
#include "core/rng.h"

namespace tinyr2::ops {

Tensor dropout(Tape& tape, const Tensor& x, float p, Rng& rng);

// The mask dropout multiplies by: 1/(1−p) where kept, 0 where dropped (no autograd).
Tensor dropout_mask(const Shape& shape, float p, Rng& rng);

}  // namespace tinyr2::ops
