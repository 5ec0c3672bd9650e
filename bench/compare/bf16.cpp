#include "bench/compare/bf16.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "bench/compare/output.h"

namespace tinyr2::bench_compare {

std::pair<std::string, double> measure_bf16_speedup(const MeasureCommands& cmd,
                                                    const CompareOptions& o,
                                                    const Scratch& scratch) {
  double log_sum = 0;
  const int64_t rounds = std::max<int64_t>(o.rounds, 1);
  for (int64_t r = 0; r < rounds; ++r) {
    double tps[2] = {0, 0};  // [fp32, bf16]
    for (int k = 0; k < 2; ++k) {
      const int p = (k == 0) == (r % 2 == 0) ? 0 : 1;  // fp32 first in even rounds
      const char* name = p == 0 ? "fp32" : "bf16";
      std::vector<std::string> argv = cmd.ours_train;
      argv.insert(argv.end(), {"--precision", name});
      const std::string what = fmt::format("tinyr2 bench train-step --precision {}", name);
      const ChildRun c = run_child(argv, scratch, what);
      tps[p] = number(c.result, "tokens_per_s", what);
      progress(fmt::format("bf16 round {}/{}: training, tinyr2 {}: {} tokens/s", r + 1, rounds,
                           name, rate(tps[p])));
    }
    log_sum += std::log(tps[1] / tps[0]);
  }
  return {"bf16_speedup", std::exp(log_sum / static_cast<double>(rounds))};
}

}  // namespace tinyr2::bench_compare
