// One DSMoE layer (SPEC §2.4), training-mode forward + backward, at n_embd 256 (experts of
// width 4·C = 1024), num_exp 2 (the shared expert + one routed), B·T = 2048 tokens, with 8,
// 32 and 64 experts. Every token does the same arithmetic whatever the expert count (sparse
// dispatch), so the time should stay flat; what grows is the gate, the dispatch and the
// number of small per-expert GEMMs. The workload is bench::MoELayerWorkload
// (src/bench/workloads.h), which `tinyr2 bench compare` times too.
#include <benchmark/benchmark.h>

#include "bench/workloads.h"
#include "bench_util.h"

namespace tinyr2::bench {

static void BM_moe_fwd_bwd(benchmark::State& state) {
  const int64_t experts = state.range(0), tokens = 2048, C = 256;
  MoELayerWorkload moe(experts, /*num_exp=*/2, tokens, C);
  for (auto _ : state) moe.run();
  // Expert arithmetic per token: the shared and one routed expert, 2 GEMMs each (C → 4C → C),
  // ×3 with backward; the gate adds 6·C·(E−1).
  const double per_token = 2 * 3 * 2.0 * (2.0 * C * 4 * C) + 6.0 * C * (experts - 1);
  set_flops(state, per_token * tokens);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_moe_fwd_bwd)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
