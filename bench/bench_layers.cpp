// One attention layer, forward + backward: FULL (SPEC §2.1) vs Sparse NSA (SPEC §2.3) at the
// default config's widths (n_embd 256, 4 heads, NSA block 16/16, select 32, keep 128,
// window 128), B = 1, growing T. FULL costs O(T²); NSA costs O(T·(T/d + n·l′ + w)).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "nn/full_attention.h"
#include "nn/sparse_attention.h"

namespace tinyr2::bench {

namespace {
nn::ModelConfig layer_config(int64_t T) {
  nlohmann::json j = {{"ctx_len", T}};
  return nn::ModelConfig::from_json(j);
}

template <typename Layer, typename... Extra>
void run_layer(benchmark::State& state, Extra... extra) {
  const int64_t T = state.range(0);
  const nn::ModelConfig cfg = layer_config(T);
  nn::Parameters params;
  Layer layer(params, "attn.", cfg, extra...);
  params.init_all(1);
  Tensor x = randn({1, T, cfg.n_embd}, 2);
  Tensor g = randn({1, T, cfg.n_embd}, 3);
  x.set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    nn::ForwardContext ctx(tape);
    Tensor y = layer.forward(ctx, x);
    tape.backward(y, g);
    for (auto& e : params.all()) e.tensor.zero_grad();
    x.zero_grad();
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}
}  // namespace

static void BM_layer_full_fwd_bwd(benchmark::State& state) { run_layer<nn::FullAttention>(state); }
static void BM_layer_nsa_fwd_bwd(benchmark::State& state) {
  run_layer<nn::SparseAttention>(state, nn::BranchSet{true, true, true});
}
BENCHMARK(BM_layer_full_fwd_bwd)->Arg(512)->Arg(2048)->Arg(8192)->Arg(32768)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_layer_nsa_fwd_bwd)->Arg(512)->Arg(2048)->Arg(8192)->Arg(32768)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
