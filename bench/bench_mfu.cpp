// MFU of a dense model: one full training step (forward, backward, clip, Muon + AdamW) of
// n_embd 512, n_head 8, n_layer 4, ctx_len 512, every layer FULL attention + MLP, hc false,
// GPT-2 vocabulary, batch 4 × 512 tokens, on random tokens. GFLOP/s counts model FLOPs:
//   6·N + 12·n_layer·T·C/2 per token, N = active non-embedding parameters + V·C (tied head)
// (bench::training_flops, src/bench/workloads.h); the summary puts it against the sgemm
// ceiling of the same run (run with --benchmark_filter='sgemm|train_step' to get both).
// `tinyr2 bench compare` measures the same configuration (bench::dense512_config).
#include <benchmark/benchmark.h>

#include "bench/workloads.h"
#include "bench_util.h"

namespace tinyr2::bench {

static void BM_train_step_dense512(benchmark::State& state) {
  TrainStepWorkload w(dense512_config(/*batch=*/4, /*ctx_len=*/512));
  for (auto _ : state) w.run();
  const double tokens = static_cast<double>(w.tokens_per_step());
  set_flops(state, training_flops(w.model(), w.model().cfg.ctx_len).per_token * tokens);
  state.counters["tokens/s"] =
      benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_train_step_dense512)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace tinyr2::bench
