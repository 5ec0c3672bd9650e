// Helpers shared by the benchmark files.
#pragma once

#include <benchmark/benchmark.h>

#include "core/rng.h"
#include "core/tensor.h"

namespace tinyr2::bench {

// Reports `flops` floating-point operations per iteration as a GFLOP/s rate.
inline void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

inline Tensor randn(const Shape& shape, uint64_t seed, float std = 1.f) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).normal(t.data(), t.numel(), 0.f, std);
  return t;
}

}  // namespace tinyr2::bench
