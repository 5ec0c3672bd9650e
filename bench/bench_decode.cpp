// Decoding cost per token (SPEC §7): one cached decode step (Model::forward_cached, one
// token) at context positions 256, 1k and 4k, for a FULL-only and an all-Sparse model of the
// default widths (n_embd 256, 4 heads, 4 layers, MLP/MoE, mHC, NSA 16/16, select 32 × 4,
// window 128). The tied head over the GPT-2 vocabulary (50257 × 256) is a fixed cost of every
// step; a vocabulary of 256 shows the layers alone. The prompt is prefilled once (untimed);
// each benchmark iteration decodes the next position, 64 in all.
// FULL reads every cached position per token; Sparse reads T/d compressed keys, n·l′ selected
// rows and w window rows. BM_decode_linear: an all-Linear model (SPEC §10) at positions 256,
// 4k and 32k, flat in the position (its state is S (D×D) and z (D) per head, whatever the
// position). Reported as ms/token.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include "bench_util.h"
#include "nn/model.h"
#include "nn/model_cache.h"

namespace tinyr2::bench {

namespace {

void run_decode(benchmark::State& state, const char* attention) {
  const int64_t pos = state.range(0), vocab = state.range(1);
  const nn::ModelConfig cfg =
      nn::ModelConfig::from_json({{"ctx_len", std::max<int64_t>(8192, pos + 128)},
                                  {"vocab_size", vocab},
                                  {"attention_types", {attention}}});
  nn::Model model(cfg);
  model.init(1);
  Rng rng(2);
  std::vector<int32_t> prompt(static_cast<size_t>(pos));
  for (auto& id : prompt)
    id = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(cfg.vocab_size)));
  nn::ModelCache cache(model);
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  model.forward_cached(ctx, IndexTensor({1, pos}, prompt), cache, /*last_only=*/true);

  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    const int32_t id = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(cfg.vocab_size)));
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor logits = model.forward_cached(ctx, IndexTensor({1, 1}, {id}), cache);
    benchmark::DoNotOptimize(logits.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++steps;
  }
  state.counters["ms/token"] = 1e3 * seconds / static_cast<double>(steps);
  state.counters["cache_MB"] = static_cast<double>(cache.bytes()) / 1e6;
}

}  // namespace

static void BM_decode_full(benchmark::State& state) {
  run_decode(state, "FULL");
}
static void BM_decode_sparse(benchmark::State& state) {
  run_decode(state, "Sparse");
}
static void BM_decode_linear(benchmark::State& state) {
  run_decode(state, "Linear");
}
// Arguments: position, vocabulary (50257 = GPT-2; 256 shrinks the head so that the layers'
// share of a step shows).
BENCHMARK(BM_decode_full)
    ->ArgsProduct({{256, 1024, 4096}, {50257, 256}})
    ->Iterations(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_decode_sparse)
    ->ArgsProduct({{256, 1024, 4096}, {50257, 256}})
    ->Iterations(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_decode_linear)
    ->ArgsProduct({{256, 4096, 32768}, {50257, 256}})
    ->Iterations(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace tinyr2::bench
