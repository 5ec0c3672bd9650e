// The bf16 line of `bench compare` (SPEC §13, train.precision): tinyr2's training tokens/s
// with bf16 matrix products over its fp32 tokens/s, on the compare config, each measure a
// `tinyr2 bench train-step --precision P` child, in interleaved rounds (fp32 first in even
// rounds, bf16 first in odd ones). The ratio is `bf16_speedup`, the geometric mean of the
// per-round ratios.
#pragma once

#include <string>
#include <utility>

#include "bench/compare/rounds.h"

namespace tinyr2::bench_compare {

std::pair<std::string, double> measure_bf16_speedup(const MeasureCommands& cmd,
                                                    const CompareOptions& o,
                                                    const Scratch& scratch);

}  // namespace tinyr2::bench_compare
