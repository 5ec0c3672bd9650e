// Causal attention (the flash-style range-attention kernel) forward and forward + backward.
//
// FLOPs: the forward does two T×T/2 products (S = QKᵀ and O = PV), 2·(T²/2)·D each per
// head: 4·T²/2·H·D. The backward does five (S and dP recomputed, dV, dK, dQ), so
// forward + backward counts 14·T²/2·H·D. Index attention (the NSA selection branch) over
// n keys per query counts 4·T·n·H·D forward and 14·T·n·H·D forward + backward, with n the
// number of valid (non-padding) entries.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "autograd/ops_attention.h"
#include "bench_util.h"

namespace tinyr2::bench {

static void BM_causal_attention_fwd(benchmark::State& state) {
  const int64_t B = 1, H = 4, D = 64, T = state.range(0);
  Tensor q = random_normal({B, T, H, D}, 1), k = random_normal({B, T, H, D}, 2),
         v = random_normal({B, T, H, D}, 3);
  Tape tape;
  NoGradGuard no_grad(tape);
  for (auto _ : state) {
    Tensor y = ops::causal_attention(tape, q, k, v, 1.f / std::sqrt(float(D)));
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 4.0 * T * T / 2 * H * D * B);
}
BENCHMARK(BM_causal_attention_fwd)
    ->Arg(512)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

static void BM_causal_attention_fwd_bwd(benchmark::State& state) {
  const int64_t B = 1, H = 4, D = 64, T = state.range(0);
  Tensor q = random_normal({B, T, H, D}, 1), k = random_normal({B, T, H, D}, 2),
         v = random_normal({B, T, H, D}, 3);
  Tensor g = random_normal({B, T, H, D}, 4);
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::causal_attention(tape, q, k, v, 1.f / std::sqrt(float(D)));
    tape.backward(y, g);
    for (const Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
  set_flops(state, 14.0 * T * T / 2 * H * D * B);
}
BENCHMARK(BM_causal_attention_fwd_bwd)
    ->Arg(512)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The NSA window branch's shape next to FULL's at T = 512: args (Dk, Dv, window; 0 = causal).
// FLOPs per visible (query, key) pair: 2·(Dk + Dv) forward, 2·(3·Dk + 2·Dv) backward.
static void BM_range_attention_shapes_fwd_bwd(benchmark::State& state) {
  const int64_t B = 1, H = 4, T = 512, Dk = state.range(0), Dv = state.range(1), w = state.range(2);
  Tensor q = random_normal({B, T, H, Dk}, 1), k = random_normal({B, T, H, Dk}, 2),
         v = random_normal({B, T, H, Dv}, 3);
  Tensor g = random_normal({B, T, H, Dv}, 4);
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::causal_attention(tape, q, k, v, 1.f / std::sqrt(float(Dk)), w);
    tape.backward(y, g);
    for (const Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
  double pairs = 0;
  for (int64_t t = 0; t < T; ++t) pairs += w > 0 ? std::min<int64_t>(w, t + 1) : t + 1;
  set_flops(state, pairs * H * B * 2.0 * (4 * Dk + 3 * Dv));
}
BENCHMARK(BM_range_attention_shapes_fwd_bwd)
    ->Args({64, 64, 0})
    ->Args({96, 32, 0})
    ->Args({96, 32, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// NSA selection at T tokens: each query picks `blocks` random blocks of 64 tokens among the
// complete-or-current ones (its own block always), and attends to their tokens u <= t.
static void BM_index_attention_fwd_bwd(benchmark::State& state) {
  const int64_t B = 1, H = 4, D = 64, T = state.range(0), blocks = 8, bs = 64, n = blocks * bs;
  Tensor q = random_normal({B, T, H, D}, 1), k = random_normal({B, T, H, D}, 2),
         v = random_normal({B, T, H, D}, 3);
  Tensor g = random_normal({B, T, H, D}, 4);
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  std::vector<int32_t> idx(B * T * n, -1);
  std::mt19937 gen(5);
  double valid = 0;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int32_t> cand(t / bs);  // earlier blocks; the query's own block comes first
    std::iota(cand.begin(), cand.end(), 0);
    std::shuffle(cand.begin(), cand.end(), gen);
    cand.insert(cand.begin(), static_cast<int32_t>(t / bs));
    for (int64_t i = 0; i < std::min<int64_t>(blocks, cand.size()); ++i)
      for (int64_t u = 0; u < bs; ++u) {
        const int64_t tok = cand[i] * bs + u;
        if (tok > t) continue;
        idx[t * n + i * bs + u] = static_cast<int32_t>(tok);
        valid += 1;
      }
  }
  IndexTensor index({B, T, n}, idx);
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::index_attention(tape, q, k, v, index, 1.f / std::sqrt(float(D)));
    tape.backward(y, g);
    for (const Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
  set_flops(state, 14.0 * valid * H * D);
}
BENCHMARK(BM_index_attention_fwd_bwd)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
