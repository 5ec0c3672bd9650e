// Sampling cost per token (SPEC §7) over the GPT-2 vocabulary (50257): one Sampler::next()
// per iteration (the path of the server and of `generate`), on fixed logits from N(0, σ²).
// σ sets how peaked the distribution is: σ = 2 is flat (top-p 0.9 keeps ~15 % of the
// vocabulary), σ = 4 is closer to a trained model's next-token distribution (top-p 0.9 keeps
// a few hundred tokens). Cases: plain temperature (top_k 0, top_p 1), top-p 0.9 without top-k
// (the server's and OpenAI's usual setting), and top-k 40 + top-p 0.95 (the CLI's default).
// Time per iteration = time per token.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/rng.h"
#include "infer/sampling.h"

namespace tinyr2::bench {

namespace {

void run_sample(benchmark::State& state, infer::SamplingParams params) {
  const int64_t vocab = 50257;
  const float sigma = static_cast<float>(state.range(0));
  std::vector<float> logits(static_cast<size_t>(vocab));
  Rng(5).normal(logits.data(), vocab, 0.f, sigma);
  infer::Sampler sampler(params, 6);
  int64_t sum = 0;
  for (auto _ : state) {
    sum += sampler.next(logits.data(), vocab);
    benchmark::DoNotOptimize(sum);
  }
}

void BM_SampleTemperature(benchmark::State& state) {
  run_sample(state, {1.0, 0, 1.0});
}
void BM_SampleTopP(benchmark::State& state) {
  run_sample(state, {1.0, 0, 0.9});
}
void BM_SampleTopKTopP(benchmark::State& state) {
  run_sample(state, {0.8, 40, 0.95});
}

BENCHMARK(BM_SampleTemperature)->Arg(2)->Arg(4)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleTopP)->Arg(2)->Arg(4)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleTopKTopP)->Arg(2)->Arg(4)->Unit(benchmark::kMicrosecond);

}  // namespace

}  // namespace tinyr2::bench
