// RMSNorm, the fused cross-entropy and the tied head + loss, forward + backward, at model
// shapes.
//
// Bytes are a minimal-traffic model of one iteration (each tensor streamed once per pass
// that must touch it), so bytes/s compares against the memory bandwidth; items are rows for
// rmsnorm and logits for cross-entropy. The input's .grad is kept across iterations (it
// accumulates) so that the kernels, not the allocation of a fresh gradient, are measured.
#include <benchmark/benchmark.h>

#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "bench_util.h"

namespace tinyr2::bench {

// rmsnorm (R, C): forward reads x and writes y; backward reads x and g and updates dx
// (read + write). w, dw and rstd are negligible.
static void BM_rmsnorm_fwd_bwd(benchmark::State& state) {
  const int64_t R = state.range(0), C = state.range(1);
  Tensor x = random_normal({R, C}, 1), w = random_normal({C}, 2, 0.1f),
         g = random_normal({R, C}, 3);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::rmsnorm(tape, x, w, 1e-6f);
    tape.backward(y, g);
    benchmark::DoNotOptimize(x.grad().data());
  }
  state.SetBytesProcessed(state.iterations() * 6 * R * C * int64_t(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * R);
}
BENCHMARK(BM_rmsnorm_fwd_bwd)->Args({2048, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();

// cross_entropy (N, V): forward reads the logits; backward reads them again and updates the
// logits gradient (read + write).
static void BM_cross_entropy_fwd_bwd(benchmark::State& state) {
  const int64_t N = state.range(0), V = state.range(1);
  Tensor logits = random_normal({N, V}, 4, 2.f);
  logits.set_requires_grad(true);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 7919) % V);
  const IndexTensor targets({N}, t);
  for (auto _ : state) {
    Tape tape;
    Tensor loss = ops::cross_entropy(tape, logits, targets);
    tape.backward(loss);
    benchmark::DoNotOptimize(logits.grad().data());
  }
  state.SetBytesProcessed(state.iterations() * 4 * N * V * int64_t(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * N * V);
}
BENCHMARK(BM_cross_entropy_fwd_bwd)
    ->Args({512, 50257})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The forward alone (evaluation): one read of the logits.
static void BM_cross_entropy_fwd(benchmark::State& state) {
  const int64_t N = state.range(0), V = state.range(1);
  Tensor logits = random_normal({N, V}, 4, 2.f);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 7919) % V);
  const IndexTensor targets({N}, t);
  for (auto _ : state) {
    Tape tape;
    benchmark::DoNotOptimize(ops::cross_entropy(tape, logits, targets).item());
  }
  state.SetBytesProcessed(state.iterations() * N * V * int64_t(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * N * V);
}
BENCHMARK(BM_cross_entropy_fwd)->Args({512, 50257})->Unit(benchmark::kMillisecond)->UseRealTime();

// The tied head and the loss, forward + backward, at the demo's shape (N = 8 × 256 rows,
// C = 256, the GPT-2 vocabulary): linear + cross_entropy (arg 0: the (N, V) logits and their
// gradient exist) against linear_cross_entropy (arg 1: row chunks, no logits). FLOPs: the
// three GEMMs, 6·N·V·C.
static void BM_tied_head_loss_fwd_bwd(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  const int64_t N = 2048, C = 256, V = 50257;
  Tensor h = random_normal({N, C}, 5), w = random_normal({V, C}, 6, 0.02f);
  h.set_requires_grad(true);
  w.set_requires_grad(true);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 7919) % V);
  const IndexTensor targets({N}, t);
  for (auto _ : state) {
    Tape tape;
    Tensor loss = fused ? ops::linear_cross_entropy(tape, h, w, targets)
                        : ops::cross_entropy(tape, ops::linear(tape, h, w), targets);
    tape.backward(loss);
    benchmark::DoNotOptimize(w.grad().data());
    h.zero_grad();
    w.zero_grad();
  }
  set_flops(state, 6.0 * N * V * C);
}
BENCHMARK(BM_tied_head_loss_fwd_bwd)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
