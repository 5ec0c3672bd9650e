// The two sgemm paths (kernels/cpu/gemm_paths.h) side by side on the products the default
// config runs (configs/default.json: 2048 tokens × n_embd 256, MLP 1024, tied head over
// 50257 tokens in 112-row chunks, Muon on 256×1024, a rank-8 LoRA adapter's forward and
// backward products on a 768-wide projection, a decode step's one-row products), plus gemm() (the
// rule's choice) and OpenBLAS ssyrk against the gemm it replaces. Re-run on another CPU to
// re-derive the rule:
//
//   build/tinyr2-bench --benchmark_filter='gemm_path'
//
// Args: trans_a, trans_b, M, N, K. BM_gemm_path_openblas / _onednn / _rule share the shapes.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "bench_util.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/gemv.h"

namespace tinyr2::bench {

namespace {

enum class Which { OpenBlas, OneDnn, Rule };

void run_path(benchmark::State& state, Which which) {
  const bool ta = state.range(0) != 0, tb = state.range(1) != 0;
  const int64_t M = state.range(2), N = state.range(3), K = state.range(4);
  Tensor a = random_normal({M * K}, 1), b = random_normal({K * N}, 2), c = Tensor::zeros({M * N});
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  for (auto _ : state) {
    if (which == Which::OpenBlas)
      kernels::cpu::gemm_openblas(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(),
                                  N);
    else if (which == Which::OneDnn)
      kernels::cpu::gemm_onednn(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(),
                                N);
    else
      kernels::cpu::gemm(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * M * N * K);
  const cpu::IsaLevel level = kernels::cpu::gemm_isa_level();
  const bool gemv = M == 1 && !ta && tb && kernels::cpu::gemv_supported(level);  // gemm.cpp
  state.SetLabel(
      std::string("rule: ") +
      (gemv ? "GEMV"
            : kernels::cpu::gemm_path_name(kernels::cpu::gemm_path_for(ta, tb, M, N, K, level))));
}

// The default config's products (forward NT, dX NN, dW TN), by shape class.
void default_config_shapes(benchmark::internal::Benchmark* b) {
  std::vector<std::vector<int64_t>> shapes = default_config_gemm_shapes();
  const std::vector<std::vector<int64_t>> more = {
      {0, 1, 300, 1024, 256},  {0, 0, 300, 256, 1024},                           // MoE expert
      {0, 1, 2048, 8, 256},    {0, 1, 2048, 768, 8},     {0, 0, 2048, 8, 768},   // LoRA r 8
      {1, 0, 768, 8, 2048},    {0, 0, 2048, 256, 8},     {1, 0, 8, 256, 2048},   // LoRA r 8
      {0, 0, 7, 256, 7},       {0, 1, 128, 32, 32},                              // tiny
      {0, 1, 2048, 512, 2048}, {0, 0, 1024, 1024, 1024},                         // large
      {0, 1, 1, 50257, 256},   {0, 1, 1, 768, 256},      {0, 1, 1, 256, 1024}};  // decode
  shapes.insert(shapes.end(), more.begin(), more.end());
  for (const auto& s : shapes) b->Args(s);
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

static void BM_gemm_path_openblas(benchmark::State& state) {
  run_path(state, Which::OpenBlas);
}
static void BM_gemm_path_onednn(benchmark::State& state) {
  run_path(state, Which::OneDnn);
}
static void BM_gemm_path_rule(benchmark::State& state) {
  run_path(state, Which::Rule);
}
BENCHMARK(BM_gemm_path_openblas)->Apply(default_config_shapes);
BENCHMARK(BM_gemm_path_onednn)->Apply(default_config_shapes);
BENCHMARK(BM_gemm_path_rule)->Apply(default_config_shapes);

// Muon's X·Xᵀ: OpenBLAS ssyrk (half the FLOPs) against the gemm computing the same matrix on
// each path. Args: N, K (X is N×K); FLOPs counted as the gemm's 2·N·N·K for all three.
static void BM_gemm_path_syrk(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1), which = state.range(2);
  Tensor x = random_normal({N * K}, 3), c = Tensor::zeros({N * N});
  for (auto _ : state) {
    if (which == 0)
      kernels::cpu::syrk(false, N, K, 1.f, x.data(), K, 0.f, c.data(), N);
    else if (which == 1)
      kernels::cpu::gemm_openblas(false, true, N, N, K, 1.f, x.data(), K, x.data(), K, 0.f,
                                  c.data(), N);
    else
      kernels::cpu::gemm_onednn(false, true, N, N, K, 1.f, x.data(), K, x.data(), K, 0.f, c.data(),
                                N);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * N * N * K);
  state.SetLabel(which == 0 ? "ssyrk" : which == 1 ? "OpenBLAS gemm" : "oneDNN gemm");
}
BENCHMARK(BM_gemm_path_syrk)
    ->ArgsProduct({{256}, {256, 1024}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// gemm()'s transposed class (kernels/cpu/gemm_paths.h): NT products x·Wᵀ with few rows and a
// long K, computed directly and transposed (Cᵀ = W·xᵀ, then transposed), interleaved in one
// loop (the machine may be shared). Counters: transposed ÷ direct in CPU time and wall time.
// Args: M, N, K; the NSA block compressor's first layer is M = B·nb, N 256, K = l·C = 4096
// (nb 32 at T = 512, B = 1; nb 16 at T = 256, B = 8 in training).
static void BM_gemm_path_transposed(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Tensor a = random_normal({M * K}, 1), b = random_normal({N * K}, 2), c = Tensor::zeros({M * N});
  double cpu[2] = {0, 0}, wall[2] = {0, 0};
  for (auto _ : state)
    for (int transposed : {0, 1}) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      if (transposed)
        kernels::cpu::gemm_transposed(false, true, M, N, K, 1.f, a.data(), K, b.data(), K, 0.f,
                                      c.data(), N);
      else
        kernels::cpu::gemm_direct(false, true, M, N, K, 1.f, a.data(), K, b.data(), K, 0.f,
                                  c.data(), N);
      benchmark::DoNotOptimize(c.data());
      cpu[transposed] += static_cast<double>(std::clock() - c0);
      wall[transposed] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  state.counters["cpu"] = cpu[1] / cpu[0];
  state.counters["wall"] = wall[1] / wall[0];
  state.counters["direct_ms"] = 1e3 * wall[0] / static_cast<double>(state.iterations());
  state.SetLabel(
      kernels::cpu::gemm_transposed_for(false, true, M, N, K, kernels::cpu::gemm_isa_level())
          ? "rule: transposed"
          : "rule: direct");
}
BENCHMARK(BM_gemm_path_transposed)
    ->ArgsProduct({{8, 16, 32, 48, 128}, {256}, {256, 4096}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace tinyr2::bench
