// The thread-scaling line of `bench compare` (issue 20: "fast on the CPU it runs on"):
// training tokens/s of this tinyr2 with 2 threads ÷ with 1 thread, default config (or
// --config), each measured by the hidden child `bench train-step` in its own process, the two
// thread counts interleaved round by round (1 then 2 in even rounds, 2 then 1 in odd ones).
#pragma once

#include "bench/compare/bench_compare.h"
#include "bench/compare/child_process.h"
#include "bench/compare/inputs.h"
#include "bench/compare/report.h"

namespace tinyr2::bench_compare {

// Prints the two medians and the per-round ratios; returns threads2_scaling (the median of
// the per-round ratios), or nothing, with a line saying why, on a machine with < 2 cores.
Ratios run_thread_scaling(const Inputs& in, const CompareOptions& o, const Scratch& scratch);

}  // namespace tinyr2::bench_compare
