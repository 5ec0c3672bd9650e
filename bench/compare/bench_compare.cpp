// `tinyr2 bench compare`: inputs, header, the end-to-end rounds and their table, the
// micro-benchmarks, the step's arithmetic, the ratio lines (see bench_compare.h).
#include "bench/compare/bench_compare.h"

#include <fmt/format.h>

#include "bench/compare/arithmetic.h"
#include "bench/compare/bf16.h"
#include "bench/compare/child_process.h"
#include "bench/compare/inputs.h"
#include "bench/compare/micro.h"
#include "bench/compare/output.h"
#include "bench/compare/report.h"
#include "bench/compare/rounds.h"
#include "bench/compare/scaling.h"
#include "bench/timing.h"
#include "core/threads.h"

namespace tinyr2::bench_compare {

int run_bench_compare(const CompareOptions& o) {
  const bench::Clock::time_point t_start = bench::Clock::now();
  const Inputs in = resolve_inputs(o);  // everything checked before the first child starts
  const int threads = threads::num_threads();
  const Scratch scratch;
  print_header(in, o, threads);
  say(fmt::format("  PyTorch runs with {} (its float32 matmuls go through the same OpenBLAS)",
                  fmt::join(in.torch_env, " ")));

  const MeasureCommands cmd = measure_commands(in, o, threads);
  const RoundResults res = run_rounds(cmd, o, scratch);
  Ratios ratios = print_table(res, in, o);
  ratios.push_back(measure_bf16_speedup(cmd, o, scratch));  // SPEC §13
  const MicroResults micro = run_micro_benchmarks(o, in, threads, scratch);
  for (const auto& r : micro.ratios) ratios.push_back(r);
  if (micro.sgemm_ceiling > 0)  // the bound needs this run's ceiling
    for (const auto& r : training_arithmetic(res, in, micro.sgemm_ceiling)) ratios.push_back(r);
  for (auto& r : run_thread_scaling(in, o, scratch)) ratios.push_back(std::move(r));
  print_ratios(ratios, bench::seconds_since(t_start));
  return 0;
}

}  // namespace tinyr2::bench_compare
