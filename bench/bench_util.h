// Helpers shared by the benchmark files.
#pragma once

#include <benchmark/benchmark.h>

#include "bench/workloads.h"  // random_normal

namespace tinyr2::bench {

// Reports `flops` floating-point operations per iteration as a GFLOP/s rate.
inline void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace tinyr2::bench
