// Helpers shared by the benchmark files.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/workloads.h"  // random_normal

namespace tinyr2::bench {

// Reports `flops` floating-point operations per iteration as a GFLOP/s rate.
inline void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

// The default config's (configs/default.json) products as {ta, tb, M, N, K}: forward NT,
// dX NN and dW TN of the tied head, the MLP and the projections, and Muon's Newton–Schulz.
// The GEMM path benchmarks (fp32 and bf16) append their own extra shapes.
inline std::vector<std::vector<int64_t>> default_config_gemm_shapes() {
  return {{0, 1, 112, 50257, 256}, {0, 0, 112, 256, 50257}, {1, 0, 50257, 256, 112},  // tied head
          {0, 1, 2048, 1024, 256}, {0, 0, 2048, 256, 1024}, {1, 0, 1024, 256, 2048},  // MLP
          {0, 1, 2048, 768, 256},  {0, 0, 2048, 256, 768},  {1, 0, 768, 256, 2048},   // projections
          {0, 1, 2048, 256, 256},  {1, 0, 256, 256, 2048},                            // projections
          {0, 1, 1024, 256, 256},  {0, 0, 256, 1024, 256}};                           // Muon
}

}  // namespace tinyr2::bench
