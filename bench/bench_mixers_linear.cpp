// SPEC §10 mixers "Linear" and "LFA" next to FULL and Sparse (NSA):
//   BM_mixer_fwd_bwd/<type>/T   one layer (nn::make_sequence_mixer) forward + backward at the
//                               default config's widths (n_embd 256, 4 heads), B = 1, T = 512,
//                               2k, 8k, 32k. Linear is O(T) (chunks of 64 + a D×D state);
//                               FULL and LFA are O(T²).
//   BM_decode_linear/pos/vocab  one cached decode step of a 4-layer all-Linear model at
//                               positions 256, 4k and 32k: flat in the position (the state is
//                               S (D×D) and z (D) per head). Reported as ms/token.
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench_util.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"
#include "nn/model_cache.h"

namespace tinyr2::bench {

namespace {

const char* const kTypes[] = {"FULL", "Sparse", "Linear", "LFA"};

void run_mixer(benchmark::State& state) {
  const char* type = kTypes[state.range(0)];
  const int64_t T = state.range(1);
  const nn::ModelConfig cfg = nn::ModelConfig::from_json(
      nlohmann::json{{"ctx_len", T}, {"attention_types", nlohmann::json::array({type})}});
  nn::Parameters params;
  const auto mixer = nn::make_sequence_mixer(params, "attn.", cfg, 0);
  params.init_all(1);
  const Tensor x = random_normal({1, T, cfg.n_embd}, 2);
  const Tensor dy = random_normal({1, T, cfg.n_embd}, 3);
  x.set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    nn::ForwardContext ctx(tape);
    const Tensor y = mixer->forward(ctx, x);
    tape.backward(y, dy);
    for (const auto& e : params.all()) e.tensor.zero_grad();
    x.zero_grad();
  }
  state.SetLabel(type);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}

void run_decode_linear(benchmark::State& state) {
  const int64_t pos = state.range(0), vocab = state.range(1);
  const nn::ModelConfig cfg = nn::ModelConfig::from_json(
      {{"ctx_len", pos + 128}, {"vocab_size", vocab}, {"attention_types", {"Linear"}}});
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

static void BM_mixer_fwd_bwd(benchmark::State& state) {
  run_mixer(state);
}
// Arguments: type (0 FULL, 1 Sparse, 2 Linear, 3 LFA), T.
BENCHMARK(BM_mixer_fwd_bwd)
    ->ArgsProduct({{0, 1, 2, 3}, {512, 2048, 8192, 32768}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

static void BM_decode_linear(benchmark::State& state) {
  run_decode_linear(state);
}
// Arguments: position, vocabulary (256 shrinks the tied head so that the layers show).
BENCHMARK(BM_decode_linear)
    ->ArgsProduct({{256, 4096, 32768}, {50257, 256}})
    ->Iterations(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace tinyr2::bench
