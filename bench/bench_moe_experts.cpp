// The DSMoE layer's products in the two precisions of SPEC §13 (fp32 sgemm; bf16 operands
// with fp32 accumulation, AVX512_BF16 — skipped without it), training forward + backward at
// the default config's shapes: n_embd 256, experts of width 1024, 2048 tokens, num_exp 2 (the
// shared expert and one routed expert per token), 8 routed experts (~256 tokens each), MLP
// (relu²) experts.
//   BM_moe_experts_fwd_bwd/<p>   the routed experts' fused op alone (ops::moe_experts)
//   BM_moe_layer/<p>             the whole DSMoE layer (gate, shared expert, routed experts)
//   BM_moe_layer_bf16_vs_fp32    both precisions interleaved in one loop (the machine may be
//                                shared): counters wall and cpu, bf16 time ÷ fp32 time
// p: 0 fp32, 1 bf16.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <vector>

#include "autograd/ops.h"
#include "bench_util.h"
#include "core/cpu_features.h"
#include "moe_layer_harness.h"

namespace tinyr2::bench {

namespace {

bool skip_without_bf16(benchmark::State& state, bool bf16) {
  if (bf16 && !cpu::cpu_features().avx512_bf16) {
    state.SkipWithError("no AVX512_BF16");
    return true;
  }
  return false;
}

// The default config's DSMoE: 8 routed experts, the shared one and one routed per token.
const nlohmann::json kDefaultMoe = {{"n_experts", 8}, {"num_exp", 2}};

}  // namespace

static void BM_moe_experts_fwd_bwd(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  if (skip_without_bf16(state, bf16)) return;
  const int64_t N = 2048, C = 256, H = 1024, E = 8;
  std::vector<int32_t> idx(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) idx[n] = static_cast<int32_t>((n * 5 + n / 64) % E);
  Tensor x = random_normal({N, C}, 1), g = random_normal({N, 1}, 2);
  x.set_requires_grad(true);
  std::vector<Tensor> fc, proj;
  for (int64_t e = 0; e < E; ++e) {
    fc.push_back(random_normal({H, C}, 10 + 2 * e, 0.05f));
    proj.push_back(random_normal({C, H}, 11 + 2 * e, 0.05f));
    fc.back().set_requires_grad(true);
    proj.back().set_requires_grad(true);
  }
  const Tensor dy = random_normal({N, C}, 3);
  const IndexTensor ix({N, 1}, idx);
  for (auto _ : state) {
    Tape tape;
    tape.set_matmul_precision({bf16, bf16});
    const Tensor y = ops::moe_experts(tape, x, g, ix, fc, proj);
    tape.backward(y, dy);
    x.zero_grad();
    for (auto* v : {&fc, &proj})
      for (Tensor& t : *v) t.zero_grad();
  }
  set_flops(state, 3 * 2 * 2.0 * N * C * H);
}
BENCHMARK(BM_moe_experts_fwd_bwd)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_moe_layer(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  if (skip_without_bf16(state, bf16)) return;
  MoeLayerHarness layer(kDefaultMoe);
  for (auto _ : state) layer.run({bf16, bf16});
}
BENCHMARK(BM_moe_layer)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_moe_layer_bf16_vs_fp32(benchmark::State& state) {
  if (skip_without_bf16(state, true)) return;
  MoeLayerHarness layer(kDefaultMoe);
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  for (auto _ : state)
    for (int p : {0, 1}) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      layer.run({p == 1, p == 1});
      cpu[p] += static_cast<double>(std::clock() - c0);
      wall[p] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  state.counters["wall"] = wall[1] / wall[0];
  state.counters["cpu"] = cpu[1] / cpu[0];
}
BENCHMARK(BM_moe_layer_bf16_vs_fp32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
