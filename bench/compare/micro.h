// The micro-benchmarks of `bench compare` (tinyr2 only, in this process): one attention
// layer FULL vs NSA at a short and a long sequence, one DSMoE layer at 8/32/64 experts, and
// the MFU of a dense n_embd 512 training step against the sgemm ceiling of this run.
#pragma once

#include "bench/compare/bench_compare.h"
#include "bench/compare/report.h"

namespace tinyr2::bench_compare {

// Prints the micro-benchmark section (or the line saying it was skipped) and returns its
// ratios: nsa_vs_full_32k, nsa_vs_full_512, moe_64_vs_8, mfu_dense512 (none when skipped).
Ratios run_micro_benchmarks(const CompareOptions& o, int threads);

}  // namespace tinyr2::bench_compare
