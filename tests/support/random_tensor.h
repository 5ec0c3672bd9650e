// Deterministic random inputs for tests: N(0, std²) floats from the engine's seeded Rng.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "core/tensor.h"

namespace tinyr2::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float std = 1.f) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).normal(t.data(), t.numel(), 0.f, std);
  return t;
}

}  // namespace tinyr2::testing
