// Newton–Schulz (5 steps) in fp32 and with bf16 products (SPEC §13; kernels/cpu/
// newton_schulz.h and newton_schulz_bf16.h) on the Muon shapes of configs/default.json:
// 36 of its 82 Muon matrices are 1024 × 256 or 256 × 1024 (the MLP and expert weights), the
// rest 768/384/256/128/96/64/32/7/3 × 256 and smaller.
//
//   variant 0  fp32:          OpenBLAS ssyrk + sgemm (train.precision "fp32")
//   variant 1  bf16 native:   the AVX512_BF16 tiles (train.precision "bf16"; skipped without)
//   variant 2  bf16 emulated: the same sums in fp32 arithmetic (a CPU without AVX512_BF16)
//
// Args: rows, cols, variant; a shape's variants run one after the other, so that a busy
// machine hits them alike. GFLOP/s counts gemm-equivalent FLOPs, 5 · (4n²k + 2n³) for the
// small side n and the large k (bench_optim.cpp's count). Muon runs one matrix per thread,
// so `-t 1` is the figure that matters for training:
//
//   build/tinyr2-bench -t 1 --benchmark_filter='newton_schulz_precision'
#include <benchmark/benchmark.h>

#include <algorithm>

#include "bench_util.h"
#include "core/cpu_features.h"
#include "kernels/cpu/newton_schulz.h"
#include "kernels/cpu/newton_schulz_bf16.h"

namespace tinyr2::bench {

static void BM_newton_schulz_precision(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), variant = state.range(2);
  if (variant == 1 && !cpu::cpu_features().avx512_bf16) {
    state.SkipWithError("no AVX512_BF16");
    return;
  }
  const Tensor g = random_normal({rows, cols}, 1);
  Tensor out = Tensor::empty({rows, cols});
  for (auto _ : state) {
    if (variant == 0)
      kernels::cpu::newton_schulz(g.data(), out.data(), rows, cols, 5);
    else
      kernels::cpu::newton_schulz_bf16(variant == 1, g.data(), out.data(), rows, cols, 5);
    benchmark::DoNotOptimize(out.data());
  }
  const double n = static_cast<double>(std::min(rows, cols));
  const double k = static_cast<double>(std::max(rows, cols));
  set_flops(state, 5 * (4 * n * n * k + 2 * n * n * n));
  state.SetLabel(variant == 0 ? "fp32" : variant == 1 ? "bf16 native" : "bf16 emulated");
}
BENCHMARK(BM_newton_schulz_precision)
    ->ArgsProduct({{1024}, {256}, {0, 1, 2}})
    ->ArgsProduct({{256}, {1024}, {0, 1, 2}})
    ->ArgsProduct({{768}, {256}, {0, 1, 2}})
    ->ArgsProduct({{384}, {256}, {0, 1, 2}})
    ->ArgsProduct({{256}, {256}, {0, 1, 2}})
    ->ArgsProduct({{128}, {256}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace tinyr2::bench
