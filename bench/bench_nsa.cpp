// The Sparse layer's two token-level attention branches (SPEC §2.3) at the default config's
// shape, T = 512: B = 1, 4 heads, Dk = 96 (nope 32 + rope 64), Dv = 32, forward + backward.
//
// Selection (block attention): each query sees n = 4 blocks of l′ = 32 tokens: block 0, the
// two local blocks ending at its own, and one more earlier block drawn at random (what the
// default select_init_blocks 1 / select_local_blocks 2 / num_tokens_to_keep 128 force and
// choose), tokens u ≤ t only. Window: keys t − 128 < u ≤ t.
//
// FLOPs per visible (query, key) pair: 2·(Dk + Dv) forward, 2·(3·Dk + 2·Dv) backward.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_nsa.h"
#include "bench_util.h"

namespace tinyr2::bench {

namespace {

constexpr int64_t kB = 1, kH = 4, kDk = 96, kDv = 32;

double pair_flops() {
  return 2.0 * (kDk + kDv) + 2.0 * (3 * kDk + 2 * kDv);
}

}  // namespace

static void BM_nsa_block_attention_fwd_bwd(benchmark::State& state) {
  const int64_t T = state.range(0), bs = 32, n = 4;
  Tensor q = random_normal({kB, T, kH, kDk}, 1), k = random_normal({kB, T, kH, kDk}, 2),
         v = random_normal({kB, T, kH, kDv}, 3), g = random_normal({kB, T, kH, kDv}, 4);
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  std::vector<int32_t> idx(static_cast<size_t>(kB * T * n), -1);
  std::mt19937 gen(5);
  double pairs = 0;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t own = static_cast<int32_t>(t / bs);
    std::vector<int32_t> chosen = {0, own};
    if (own >= 1) chosen.push_back(own - 1);
    if (own >= 3) chosen.push_back(1 + static_cast<int32_t>(gen() % (own - 2)));  // 1 … own−2
    std::sort(chosen.begin(), chosen.end());
    chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
    for (size_t i = 0; i < chosen.size(); ++i) {
      idx[t * n + i] = chosen[i];
      pairs += static_cast<double>(std::min<int64_t>(bs, t + 1 - chosen[i] * bs));
    }
  }
  const IndexTensor blocks({kB, T, n}, idx);
  const float scale = 1.f / std::sqrt(float(kDk));
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::block_attention(tape, q, k, v, blocks, bs, scale);
    tape.backward(y, g);
    for (const Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
  set_flops(state, pairs * kH * kB * pair_flops());
}
BENCHMARK(BM_nsa_block_attention_fwd_bwd)
    ->Arg(512)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

static void BM_nsa_window_attention_fwd_bwd(benchmark::State& state) {
  const int64_t T = state.range(0), w = 128;
  Tensor q = random_normal({kB, T, kH, kDk}, 1), k = random_normal({kB, T, kH, kDk}, 2),
         v = random_normal({kB, T, kH, kDv}, 3), g = random_normal({kB, T, kH, kDv}, 4);
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  const float scale = 1.f / std::sqrt(float(kDk));
  for (auto _ : state) {
    Tape tape;
    Tensor y = ops::window_attention(tape, q, k, v, scale, w);
    tape.backward(y, g);
    for (const Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
  double pairs = 0;
  for (int64_t t = 0; t < T; ++t) pairs += static_cast<double>(std::min<int64_t>(w, t + 1));
  set_flops(state, pairs * kH * kB * pair_flops());
}
BENCHMARK(BM_nsa_window_attention_fwd_bwd)
    ->Arg(512)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The compression branch's block compressor, first layer + GELU, forward + backward at
// T = 512 (nb = 32 blocks of l·C = 16·256 = 4096 inputs, hidden 256) as the Sparse layer
// computes it (ops::linear; gemm() runs its forward product transposed, W0 · Xᵀ, from
// AVX-512 on: kernels/cpu/gemm_paths.h, bench gemm_path_transposed).
static void BM_nsa_compressor_fwd_bwd(benchmark::State& state) {
  const int64_t nb = 32, in = 4096, hidden = 256;
  Tensor x = random_normal({nb, in}, 1), w = random_normal({hidden, in}, 2),
         g = random_normal({nb, hidden}, 3);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  for (auto _ : state) {
    Tape tape;
    tape.backward(ops::gelu(tape, ops::linear(tape, x, w)), g);
    x.zero_grad();
    w.zero_grad();
  }
  set_flops(state, 3 * 2.0 * nb * in * hidden);
}
BENCHMARK(BM_nsa_compressor_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
