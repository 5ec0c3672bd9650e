// Elementwise kernels at the activation size of a training step, (8·256, 1024). They are
// memory-bound, so they report bytes moved per second: every float read or written counts
// 4 bytes (an accumulated gradient counts twice, read and write).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "kernels/cpu/elementwise.h"

namespace tinyr2::bench {

namespace cpu = kernels::cpu;

namespace {
constexpr int64_t kRows = 8 * 256, kCols = 1024, kNumel = kRows * kCols;
}

// (R, C) + (C), the bias pattern. Forward: read x, write y (the row vector stays in cache).
static void BM_add_broadcast_row_fwd(benchmark::State& state) {
  Tensor x = random_normal({kRows, kCols}, 1), b = random_normal({kCols}, 2),
         y = Tensor::empty({kRows, kCols});
  const cpu::BroadcastPlan plan = cpu::make_broadcast_plan(x.shape(), b.shape(), y.shape());
  for (auto _ : state) {
    cpu::binary_forward(cpu::BinaryOp::Add, plan, x.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * 2 * kNumel);
}
BENCHMARK(BM_add_broadcast_row_fwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Backward of the same: dx += g (read g, read + write dx) and db += Σ_rows g (read g).
static void BM_add_broadcast_row_bwd(benchmark::State& state) {
  Tensor x = random_normal({kRows, kCols}, 1), b = random_normal({kCols}, 2),
         g = random_normal({kRows, kCols}, 3);
  Tensor dx = Tensor::zeros(x.shape()), db = Tensor::zeros(b.shape());
  const cpu::BroadcastPlan plan = cpu::make_broadcast_plan(x.shape(), b.shape(), g.shape());
  for (auto _ : state) {
    cpu::binary_backward(cpu::BinaryOp::Add, plan, x.data(), b.data(), g.data(), dx.data(),
                         db.data());
    benchmark::DoNotOptimize(db.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * 4 * kNumel);
}
BENCHMARK(BM_add_broadcast_row_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// (R, C) · (R, 1), the per-row gate, forward and backward: forward reads x, writes y;
// backward reads g and x and accumulates dx (ds is one dot product per row).
static void BM_mul_per_row_fwd_bwd(benchmark::State& state) {
  Tensor x = random_normal({kRows, kCols}, 4), s = random_normal({kRows, 1}, 5),
         g = random_normal({kRows, kCols}, 6);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::zeros(x.shape()), ds = Tensor::zeros(s.shape());
  const cpu::BroadcastPlan plan = cpu::make_broadcast_plan(x.shape(), s.shape(), x.shape());
  for (auto _ : state) {
    cpu::binary_forward(cpu::BinaryOp::Mul, plan, x.data(), s.data(), y.data());
    cpu::binary_backward(cpu::BinaryOp::Mul, plan, x.data(), s.data(), g.data(), dx.data(),
                         ds.data());
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * (2 + 5) * kNumel);
}
BENCHMARK(BM_mul_per_row_fwd_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// gelu (exact erf form): forward reads x, writes y; backward reads x and g, accumulates dx.
static void BM_gelu_fwd_bwd(benchmark::State& state) {
  Tensor x = random_normal({kRows, kCols}, 7), g = random_normal({kRows, kCols}, 8);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::zeros(x.shape());
  for (auto _ : state) {
    cpu::gelu_forward(x.data(), y.data(), kNumel);
    cpu::gelu_backward(x.data(), g.data(), dx.data(), kNumel);
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * (2 + 4) * kNumel);
}
BENCHMARK(BM_gelu_fwd_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace tinyr2::bench
