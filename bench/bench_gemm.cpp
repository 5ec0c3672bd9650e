// sgemm (the machine's ceiling) and the linear layer forward + backward at model shapes.
#include <benchmark/benchmark.h>

#include "autograd/ops_linalg.h"
#include "bench_util.h"
#include "kernels/cpu/gemm.h"

namespace tinyr2::bench {

static void BM_sgemm_square(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = random_normal({n, n}, 1), b = random_normal({n, n}, 2), c = Tensor::zeros({n, n});
  for (auto _ : state) {
    kernels::cpu::gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_sgemm_square)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// linear: tokens × in → out, forward then backward (dX and dW): 3 products.
static void BM_linear_fwd_bwd(benchmark::State& state) {
  const int64_t tokens = state.range(0), in = state.range(1), out = state.range(2);
  Tensor x = random_normal({tokens, in}, 3), w = random_normal({out, in}, 4, 0.02f),
         g = random_normal({tokens, out}, 5);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::linear(tape, x, w);
    tape.backward(y, g);
    x.zero_grad();
    w.zero_grad();
  }
  set_flops(state, 3 * 2.0 * tokens * in * out);
}
BENCHMARK(BM_linear_fwd_bwd)
    ->Args({2048, 256, 768})
    ->Args({2048, 512, 2048})
    ->Args({2048, 2048, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace tinyr2::bench
