// The micro-benchmarks of `bench compare` (tinyr2, in this process): one attention layer
// FULL vs NSA at a short and a long sequence, one DSMoE layer at 8/32/64 experts, the MFU of
// a dense n_embd 512 training step against the sgemm ceiling of this run, and that ceiling
// against the best OpenBLAS core type's (each timed in a child process).
#pragma once

#include "bench/compare/bench_compare.h"
#include "bench/compare/child_process.h"
#include "bench/compare/inputs.h"
#include "bench/compare/report.h"

namespace tinyr2::bench_compare {

struct MicroResults {
  Ratios ratios;               // nsa_vs_full_32k, nsa_vs_full_512, moe_64_vs_8, mfu_dense512,
                               // gemm_vs_best_kernel (none when skipped)
  double sgemm_ceiling = 0.0;  // GFLOP/s, this run's (0 when skipped)
};

// Prints the micro-benchmark section (or the line saying it was skipped) and returns its
// ratios and the sgemm ceiling it measured.
MicroResults run_micro_benchmarks(const CompareOptions& o, const Inputs& in, int threads,
                                  const Scratch& scratch);

}  // namespace tinyr2::bench_compare
