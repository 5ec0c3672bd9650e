// The SPEC §10 sequence mixers next to FULL and Sparse, one layer of the default widths
// (n_embd 256, 4 heads; Mamba d_in 512, N 16, K 4, R 16), B = 1:
//
//   BM_mixer_fwd_bwd/<type>/T   forward of x (1,T,C) + backward of dy, T = 512 … 32k. Counter
//                               act_MB: heap bytes in use after the forward (the activations
//                               the tape keeps for backward, the layer's peak) minus before.
//   BM_mixer_decode/<type>/pos  one cached decode step (forward_cached of one token) at
//                               position pos after an untimed prefill; ms/token. Retention and
//                               Mamba keep a fixed-size state, so it is flat in pos.
//
// Run one type / length at a time (FULL at 32k is minutes on two cores), e.g.
//   build/tinyr2-bench --benchmark_filter='BM_mixer_fwd_bwd/Mamba'
#include <benchmark/benchmark.h>

#include <malloc.h>

#include <chrono>
#include <string>

#include "bench_util.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"

namespace tinyr2::bench {

namespace {

const char* const kTypes[] = {"FULL", "Sparse", "Retention", "Mamba"};

double heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
}

nn::ModelConfig layer_config(const char* type, int64_t ctx) {
  return nn::ModelConfig::from_json({{"ctx_len", ctx}, {"attention_types", {type}}});
}

void mixer_fwd_bwd(benchmark::State& state) {
  const char* type = kTypes[state.range(0)];
  const int64_t T = state.range(1);
  const nn::ModelConfig cfg = layer_config(type, T);
  nn::Parameters params;
  const auto mixer = nn::make_sequence_mixer(params, "attn.", cfg, 0);
  params.init_all(1);
  Tensor x = random_normal({1, T, cfg.n_embd}, 2);
  const Tensor dy = random_normal({1, T, cfg.n_embd}, 3);
  x.set_requires_grad(true);
  double act = 0;
  for (auto _ : state) {
    const double before = heap_in_use();
    Tape tape;
    nn::ForwardContext ctx(tape);
    Tensor y = mixer->forward(ctx, x);
    act = std::max(act, heap_in_use() - before);
    tape.backward(y, dy);
    for (const auto& e : params.all()) e.tensor.zero_grad();
    x.zero_grad();
  }
  state.counters["act_MB"] = act / 1e6;
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
  for (int64_t type = 0; type < 4; ++type) {
    const std::string name = kTypes[type];
    for (int64_t T : {512, 2048, 8192, 32768})
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
