// Optimizer steps at model shapes: Muon (momentum + 5 Newton–Schulz steps + update) and
// AdamW.
//
// Muon's FLOPs are those of the Newton–Schulz products on the (n, k) = (small, large) side:
// per step X Xᵀ (2n²k), A·A (2n³) and B'·X (2n²k), so 5 · (4n²k + 2n³) per optimizer step
// (the elementwise work is negligible next to it). AdamW is memory-bound: bytes are p, g, m,
// v read and p, m, v written once.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "bench_util.h"
#include "optim/adamw.h"
#include "optim/muon.h"

namespace tinyr2::bench {

static void BM_muon_step(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Tensor p = random_normal({rows, cols}, 1, 0.02f);
  p.mutable_grad() = random_normal({rows, cols}, 2);
  optim::Muon muon({{"w", p}});
  for (auto _ : state) {
    muon.step(1e-6);
    benchmark::DoNotOptimize(p.data());
  }
  const double n = static_cast<double>(std::min(rows, cols));
  const double k = static_cast<double>(std::max(rows, cols));
  set_flops(state, 5 * (4 * n * n * k + 2 * n * n * n));
}
BENCHMARK(BM_muon_step)
    ->Args({1024, 256})
    ->Args({256, 1024})
    ->Args({2048, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

static void BM_adamw_step(benchmark::State& state) {
  const int64_t numel = state.range(0);
  Tensor p = random_normal({numel / 256, 256}, 3, 0.02f);
  p.mutable_grad() = random_normal(p.shape(), 4);
  optim::AdamW adamw({{"w", p}});
  for (auto _ : state) {
    adamw.step(1e-6);
    benchmark::DoNotOptimize(p.data());
  }
  state.SetBytesProcessed(state.iterations() * 7 * numel * int64_t(sizeof(float)));
}
BENCHMARK(BM_adamw_step)->Arg(50257 * 256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
