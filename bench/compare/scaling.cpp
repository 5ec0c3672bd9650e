#include "bench/compare/scaling.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/compare/output.h"
#include "bench/timing.h"
#include "core/threads.h"

namespace tinyr2::bench_compare {

namespace {

// One `bench train-step` child on `threads` threads; returns its tokens/s.
double train_tps(const Inputs& in, const CompareOptions& o, const Scratch& scratch, int threads,
                 const std::string& round) {
  const std::string what = fmt::format("tinyr2 -t {} bench train-step", threads);
  progress(fmt::format("{}: {} ...", round, what));
  const std::vector<std::string> argv = {in.self,
                                         "-t",
                                         std::to_string(threads),
                                         "bench",
                                         "train-step",
                                         "--config",
                                         in.config,
                                         "--steps",
                                         std::to_string(o.steps),
                                         "--warmup",
                                         std::to_string(o.warmup)};
  const ChildRun c = run_child(argv, scratch, what);
  const double v = number(c.result, "tokens_per_s", what);
  progress(fmt::format("{}: {}: {} tokens/s ({:.1f} s)", round, what, rate(v), c.wall_s));
  return v;
}

}  // namespace

Ratios run_thread_scaling(const Inputs& in, const CompareOptions& o, const Scratch& scratch) {
  say("");
  const int cores = threads::physical_cores();
  if (cores < 2) {
    say(fmt::format("thread scaling skipped: this machine has {} core (needs 2)", cores));
    return {};
  }
  std::vector<double> tps1, tps2, ratio;
  for (int64_t r = 0; r < o.rounds; ++r) {
    const std::string round = fmt::format("scaling round {}/{}", r + 1, o.rounds);
    double tps[2] = {0, 0};  // [1 thread, 2 threads]
    for (int k = 0; k < 2; ++k) {
      const int t = (k == 0) == (r % 2 == 0) ? 1 : 2;  // 1 first in even rounds, 2 in odd
      tps[t - 1] = train_tps(in, o, scratch, t, round);
    }
    tps1.push_back(tps[0]);
    tps2.push_back(tps[1]);
    ratio.push_back(tps[1] / tps[0]);
  }
  const double scaling = bench::median(ratio);
  say(fmt::format(
      "thread scaling (tinyr2 training, `bench train-step`, {} steps after {} warm-up, "
      "{} cores): 1 thread {} tokens/s, 2 threads {} tokens/s (medians of {} interleaved "
      "rounds); 2 threads / 1 thread = {:.2f}x (median of the per-round ratios {:.2f})",
      o.steps, o.warmup, cores, rate(bench::median(tps1)), rate(bench::median(tps2)), o.rounds,
      scaling, fmt::join(ratio, ", ")));
  return {{"threads2_scaling", scaling}};
}

}  // namespace tinyr2::bench_compare
