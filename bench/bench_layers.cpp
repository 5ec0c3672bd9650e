// One attention layer, forward + backward: FULL (SPEC §2.1) vs Sparse NSA (SPEC §2.3) at the
// default config's widths (n_embd 256, 4 heads, NSA block 16/16, select 32, keep 128,
// window 128), B = 1, growing T. FULL costs O(T²); NSA costs O(T·(T/d + n·l′ + w)).
// The workload is bench::AttentionLayerWorkload (src/bench/workloads.h), which
// `tinyr2 bench compare` times too.
#include <benchmark/benchmark.h>

#include "bench/workloads.h"
#include "bench_util.h"

namespace tinyr2::bench {

namespace {
void run_layer(benchmark::State& state, AttentionKind kind) {
  const int64_t T = state.range(0);
  AttentionLayerWorkload layer(kind, T);
  for (auto _ : state) layer.run();
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}
}  // namespace

static void BM_layer_full_fwd_bwd(benchmark::State& state) {
  run_layer(state, AttentionKind::Full);
}
static void BM_layer_nsa_fwd_bwd(benchmark::State& state) {
  run_layer(state, AttentionKind::Nsa);
}
// T = 512, 2k, 8k, 32k, timed in milliseconds of wall time.
static void layer_lengths(benchmark::internal::Benchmark* b) {
  b->Arg(512)->Arg(2048)->Arg(8192)->Arg(32768)->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_layer_full_fwd_bwd)->Apply(layer_lengths);
BENCHMARK(BM_layer_nsa_fwd_bwd)->Apply(layer_lengths);

}  // namespace tinyr2::bench
