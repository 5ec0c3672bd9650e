// The end-to-end half of `bench compare`: training and decode, tinyr2 and PyTorch, each
// measure in its own process, in rounds that alternate which side runs first (ABBA).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/compare/bench_compare.h"
#include "bench/compare/child_process.h"
#include "bench/compare/inputs.h"

namespace tinyr2::bench_compare {

// The four command lines: each side's program and subcommand, then the shared flags.
struct MeasureCommands {
  std::vector<std::string> ours_train, torch_train, ours_decode, torch_decode;
  EnvChanges torch_env;  // Inputs::torch_env
};
MeasureCommands measure_commands(const Inputs& in, const CompareOptions& o, int threads);

// Per side, per round: the figures the table needs.
struct SideFigures {
  std::vector<double> train_tps, decode_tps, nocache_tps;
  std::vector<int64_t> rss_kb, rss_before_kb;
  std::string version;  // PyTorch's, from its result line
};

struct RoundResults {
  SideFigures ours, torch;
  std::vector<double> train_ratio, decode_ratio;  // tinyr2 / PyTorch, one per round
};

// Runs o.rounds rounds: training (both sides), then decode (both sides); tinyr2 first in
// even rounds, PyTorch first in odd ones. Progress on stderr.
RoundResults run_rounds(const MeasureCommands& cmd, const CompareOptions& o,
                        const Scratch& scratch);

}  // namespace tinyr2::bench_compare
