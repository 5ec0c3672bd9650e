// The SPEC §10 sequence mixers next to FULL and Sparse, one layer of the default widths
// (n_embd 256, 4 heads; Mamba d_in 512, N 16, K 4, R 16), B = 1:
//
//   BM_mixer_fwd_bwd/<type>/T   forward of x (1,T,C) + backward of dy, T = 512, 2k, 8k, 16k,
//                               32k. Counter peak_MB: the most memory the first forward +
//                               backward held above what it started with (bench/peak_memory.h:
//                               the resident-set high-water mark, after a warm-up pass of 64
//                               positions; -1 where it cannot be measured). Linear,
//                               LFA, Retention and Mamba never build a T×T tensor: linear in T.
//   BM_mixer_decode/<type>/pos  one cached decode step (forward_cached of one token) at
//                               position pos after an untimed prefill; ms/token. Linear,
//                               Retention and Mamba keep a fixed-size state, so it is flat in
//                               pos; FULL and LFA read every cached row (and their 32k prefill
//                               is quadratic: minutes).
//
// Run one type / length at a time (FULL and LFA at 32k are minutes on two cores), e.g.
//   build/tinyr2-bench --benchmark_filter='BM_mixer_fwd_bwd/Mamba'
#include <benchmark/benchmark.h>

#include <chrono>
#include <optional>
#include <string>

#include "bench/peak_memory.h"
#include "bench_util.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"

namespace tinyr2::bench {

namespace {

const char* const kTypes[] = {"FULL", "Sparse", "Linear", "LFA", "Retention", "Mamba"};

nn::ModelConfig layer_config(const char* type, int64_t ctx) {
  return nn::ModelConfig::from_json({{"ctx_len", ctx}, {"attention_types", {type}}});
}

void mixer_fwd_bwd(benchmark::State& state) {
  const char* type = kTypes[state.range(0)];
  const int64_t T = state.range(1);
  const nn::ModelConfig cfg = layer_config(type, T);
  MixerLayerPass pass(cfg, T);
  std::optional<int64_t> peak;
  bool first = true;
  for (auto _ : state) {
    if (first)  // the first pass, measured (its malloc_trim is a few ms of the timing)
      peak = peak_bytes([&] { pass.run(); });
    else
      pass.run();
    first = false;
    pass.zero_grads();
  }
  state.counters["peak_MB"] = peak ? static_cast<double>(*peak) / 1e6 : -1.0;
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}

void mixer_decode(benchmark::State& state) {
  const char* type = kTypes[state.range(0)];
  const int64_t pos = state.range(1);
  const nn::ModelConfig cfg = layer_config(type, pos + 4096);
  nn::Parameters params;
  const auto mixer = nn::make_sequence_mixer(params, "attn.", cfg, 0);
  params.init_all(1);
  const auto st = mixer->new_state();
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  // The prefill in pieces of 4096 positions (untimed).
  for (int64_t p = 0; p < pos; p += 4096) {
    const int64_t n = std::min<int64_t>(4096, pos - p);
    mixer->forward_cached(ctx, random_normal({1, n, cfg.n_embd}, 10 + p), *st, p);
  }
  int64_t at = pos;
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    if (at >= pos + 4096) state.SkipWithError("decode ran past the benchmark's context");
    const Tensor x = random_normal({1, 1, cfg.n_embd}, 7 + at);
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor y = mixer->forward_cached(ctx, x, *st, at);
    benchmark::DoNotOptimize(y.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++steps;
    ++at;
  }
  state.counters["ms/token"] = 1e3 * seconds / static_cast<double>(steps);
  state.counters["state_MB"] = static_cast<double>(st->bytes()) / 1e6;
}

// Registers BM_mixer_fwd_bwd/<type>/T:<T> and BM_mixer_decode/<type>/pos:<pos>.
bool register_all() {
  for (int64_t type = 0; type < 6; ++type) {
    const std::string name = kTypes[type];
    for (int64_t T : {512, 2048, 8192, 16384, 32768})
      benchmark::RegisterBenchmark(("BM_mixer_fwd_bwd/" + name + "/T:" + std::to_string(T)).c_str(),
                                   mixer_fwd_bwd)
          ->Args({type, T})
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    for (int64_t pos : {256, 4096, 32768})
      benchmark::RegisterBenchmark(
          ("BM_mixer_decode/" + name + "/pos:" + std::to_string(pos)).c_str(), mixer_decode)
          ->Args({type, pos})
          ->Iterations(64)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  return true;
}

[[maybe_unused]] const bool kRegistered = register_all();

}  // namespace

}  // namespace tinyr2::bench
