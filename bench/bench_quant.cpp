// Quantized products (kernels/cpu/quant_dot.h, SPEC §13) against the float32 GEMM on the same
// shapes: the tied head of a decode step (1 × 50257 × 256, a matrix-vector product) and a
// prefill projection (256 tokens × 768 × 256). Q8_0 and Q4_0 weights, activations quantized on
// the fly; the path is the one this CPU gets (AVX512-VNNI, AVX2 or scalar).
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_util.h"
#include "core/cpu_features.h"
#include "core/rng.h"
#include "kernels/backend.h"
#include "nn/quantized.h"

namespace tinyr2::bench {

namespace {

void run_quant(benchmark::State& state, kernels::QuantType type) {
  const int64_t M = state.range(0), rows = state.range(1), cols = state.range(2);
  const kernels::Backend& kern = kernels::backend(Device::CPU);
  Rng rng(3);
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(M * cols));
  rng.normal(w.data(), static_cast<int64_t>(w.size()), 0.f, 0.02f);
  rng.normal(x.data(), static_cast<int64_t>(x.size()), 0.f, 1.f);
  std::vector<float> y(static_cast<size_t>(M * rows));
  if (type == kernels::QuantType::F32) {
    for (auto _ : state) {
      kern.gemm(false, true, M, rows, cols, 1.f, x.data(), cols, w.data(), cols, 0.f, y.data(),
                rows);
      benchmark::DoNotOptimize(y.data());
    }
  } else {
    const int64_t rb = kernels::quant_row_bytes(type, cols);
    std::vector<uint8_t> wq(static_cast<size_t>(rows * rb));
    for (int64_t r = 0; r < rows; ++r)
      kernels::quantize_row(type, w.data() + r * cols, wq.data() + r * rb, cols);
    const kernels::QuantPath path = nn::quant_path_for(cpu::cpu_features());
    for (auto _ : state) {
      kern.quant_matmul(type, wq.data(), rows, cols, x.data(), M, y.data(), rows, path);
      benchmark::DoNotOptimize(y.data());
    }
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(M * rows * cols),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

static void BM_quant_f32(benchmark::State& s) {
  run_quant(s, kernels::QuantType::F32);
}
static void BM_quant_q8_0(benchmark::State& s) {
  run_quant(s, kernels::QuantType::Q8_0);
}
static void BM_quant_q4_0(benchmark::State& s) {
  run_quant(s, kernels::QuantType::Q4_0);
}
// Arguments: M (tokens), rows (out), cols (in).
BENCHMARK(BM_quant_f32)->Args({1, 50257, 256})->Args({256, 768, 256})->UseRealTime();
BENCHMARK(BM_quant_q8_0)->Args({1, 50257, 256})->Args({256, 768, 256})->UseRealTime();
BENCHMARK(BM_quant_q4_0)->Args({1, 50257, 256})->Args({256, 768, 256})->UseRealTime();

}  // namespace tinyr2::bench
