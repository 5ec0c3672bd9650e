// The compared training step's arithmetic (`bench compare`, after the micro-benchmarks): the
// model FLOPs of one step of the compared config (bench::training_flops: 6·N over the active
// parameters + the sequence mixers' own products) plus Muon's Newton–Schulz, which both
// sides compute; each side's achieved GFLOP/s from its training tokens/s; and the most
// `train_speedup` can be on this machine. No program does a step's arithmetic faster than
// the sgemm ceiling measured in the same run, so tinyr2 ÷ PyTorch is at most
// ceiling ÷ PyTorch's achieved GFLOP/s:
//
//   ratio train_speedup_bound = ceiling / (step FLOPs · PyTorch tokens/s / tokens per step)
#pragma once

#include "bench/compare/inputs.h"
#include "bench/compare/report.h"
#include "bench/compare/rounds.h"

namespace tinyr2::bench_compare {

// Prints the arithmetic lines and returns {"train_speedup_bound", …}; `ceiling` is the
// run's sgemm ceiling in GFLOP/s.
Ratios training_arithmetic(const RoundResults& res, const Inputs& in, double ceiling);

}  // namespace tinyr2::bench_compare
