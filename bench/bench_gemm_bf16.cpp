// The two native bf16 product paths (SPEC §13, kernels/cpu/gemm_bf16.h) side by side on the
// products the default config runs in bf16 (configs/default.json, bench_gemm_paths.cpp's list),
// each from fp32 operands to fp32 C, the rounding of both operands included:
//
//   variant 0  ours:           pack_bf16_b + gemm_bf16_packed (the 12×32 vdpbf16ps kernel)
//   variant 1  oneDNN:         to_bf16_rows on both operands + the oneDNN bf16 matmul
//   variant 2  oneDNN reorder: oneDNN reorders f32 → bf16 + the same matmul
//   variant 3  rounding only:  to_bf16_rows on both operands (variant 1's overhead)
//   variant 4  gemm_bf16:      the native path's choice (gemm_bf16_uses_onednn)
//   variant 5  fp32 gemm:      kernels/cpu/gemm.h (the fp32 training's product)
//
// Args: trans_a, trans_b, M, N, K, variant; the variants of a shape run one after the other, so
// that a busy machine hits them alike. Re-derive the rule of gemm_bf16_onednn.cpp with
//
//   build/tinyr2-bench -t 1 --benchmark_filter='gemm_bf16_path'   (then -t 2)
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <vector>

#include "bench_util.h"
#include "core/cpu_features.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_onednn.h"
#include "kernels/cpu/linear_cross_entropy.h"
#include "kernels/cpu/linear_cross_entropy_bf16.h"

namespace tinyr2::bench {

namespace {

// Compact f32 (rows, cols) → bf16 with a oneDNN reorder (its own rounding kernel).
void reorder_to_bf16(const dnnl::engine& eng, dnnl::stream& s, const float* x, int64_t rows,
                     int64_t cols, uint16_t* out) {
  using dnnl::memory;
  memory src({{rows, cols}, memory::data_type::f32, memory::format_tag::ab}, eng,
             const_cast<float*>(x));
  memory dst({{rows, cols}, memory::data_type::bf16, memory::format_tag::ab}, eng, out);
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
}

void BM_gemm_bf16_path(benchmark::State& state) {
  const bool ta = state.range(0) != 0, tb = state.range(1) != 0;
  const int64_t M = state.range(2), N = state.range(3), K = state.range(4);
  const int64_t variant = state.range(5);
  if (!cpu::cpu_features().avx512_bf16 && variant != 5) {
    state.SkipWithError("no AVX512_BF16");
    return;
  }
  Tensor a = random_normal({M * K}, 1), b = random_normal({K * N}, 2), c = Tensor::zeros({M * N});
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
  std::vector<uint16_t> workspace(static_cast<size_t>(M * K + K * N));
  std::vector<uint32_t> pack_workspace;
  kernels::cpu::PackedBf16B packed;
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(eng);
  bool ok = true;
  for (auto _ : state) {
    switch (variant) {
      case 0:
        kernels::cpu::pack_bf16_b(tb, K, N, b.data(), ldb, packed);
        kernels::cpu::gemm_bf16_packed(ta, M, K, 1.f, a.data(), lda, packed, 0.f, c.data(), N,
                                       &pack_workspace);
        break;
      case 1:
        ok = kernels::cpu::gemm_bf16_onednn(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f,
                                            c.data(), N, workspace);
        break;
      case 2:
        reorder_to_bf16(eng, stream, a.data(), a_rows, lda, workspace.data());
        reorder_to_bf16(eng, stream, b.data(), b_rows, ldb, workspace.data() + M * K);
        ok = kernels::cpu::matmul_bf16_onednn(ta, tb, M, N, K, 1.f, workspace.data(), lda,
                                              workspace.data() + M * K, ldb, 0.f, c.data(), N);
        break;
      case 3:
        kernels::cpu::to_bf16_rows(a.data(), a_rows, lda, lda, workspace.data());
        kernels::cpu::to_bf16_rows(b.data(), b_rows, ldb, ldb, workspace.data() + M * K);
        break;
      case 4:
        kernels::cpu::gemm_bf16(true, ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f,
                                c.data(), N);
        break;
      default:
        kernels::cpu::gemm(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(), N);
    }
    benchmark::DoNotOptimize(c.data());
  }
  if (!ok) state.SkipWithError("oneDNN refused the product");
  set_flops(state, 2.0 * M * N * K);
  static const char* const names[] = {"ours",          "oneDNN",         "oneDNN reorder",
                                      "rounding only", "gemm_bf16 rule", "fp32 gemm"};
  std::string label = names[variant];
  if (variant == 4)
    label += kernels::cpu::gemm_bf16_uses_onednn(ta, tb, M, N, K) ? ": oneDNN" : ": ours";
  state.SetLabel(label);
}

void default_config_bf16_shapes(benchmark::internal::Benchmark* b) {
  std::vector<std::vector<int64_t>> shapes = default_config_gemm_shapes();
  shapes.insert(shapes.end(), {{0, 1, 128, 64, 32}, {0, 0, 128, 32, 128}, {0, 1, 70, 90, 600}});
  for (const auto& s : shapes)
    for (int64_t v = 0; v < 6; ++v) {
      std::vector<int64_t> args = s;
      args.push_back(v);
      b->Args(args);
    }
  b->ArgNames({"ta", "tb", "M", "N", "K", "v"})
      ->Unit(benchmark::kMillisecond)
      ->MeasureProcessCPUTime()  // CPU: all threads' time, robust on a shared machine
      ->UseRealTime();
}

}  // namespace

BENCHMARK(BM_gemm_bf16_path)->Apply(default_config_bf16_shapes);

// The tied head + loss, forward and backward, on the default config's batch (2048 tokens,
// n_embd 256, the GPT-2 vocabulary): bf16 on gemm_bf16's own kernel (route 1), on oneDNN
// (route 2), the rule's choice (route 0), and the fp32 head (route 3). Args: route, chunk rows
// (0: the head's default).
static void BM_linear_cross_entropy_bf16_route(benchmark::State& state) {
  const int64_t route = state.range(0), chunk = state.range(1);
  const int64_t N = 2048, C = 256, V = 50257;
  if (!cpu::cpu_features().avx512_bf16 && route != 3) {
    state.SkipWithError("no AVX512_BF16");
    return;
  }
  Tensor h = random_normal({N * C}, 1), W = random_normal({V * C}, 2);
  Tensor dh = Tensor::zeros({N * C}), dW = Tensor::zeros({V * C});
  std::vector<int32_t> targets(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n)
    targets[static_cast<size_t>(n)] = static_cast<int32_t>(n * 7919 % V);
  using kernels::cpu::Bf16HeadRoute;
  const Bf16HeadRoute routes[] = {Bf16HeadRoute::Rule, Bf16HeadRoute::OwnKernel,
                                  Bf16HeadRoute::OneDnn};
  for (auto _ : state) {
    double loss;
    if (route == 3)
      loss = kernels::cpu::linear_cross_entropy(h.data(), W.data(), targets.data(), N, C, V, -100,
                                                1.f / N, nullptr, dh.data(), dW.data(), chunk);
    else
      loss = kernels::cpu::linear_cross_entropy_bf16_on(routes[route], true, h.data(), W.data(),
                                                        targets.data(), N, C, V, -100, 1.f / N,
                                                        nullptr, dh.data(), dW.data(), chunk);
    benchmark::DoNotOptimize(loss);
  }
  set_flops(state, 3 * 2.0 * N * C * V);
  static const char* const names[] = {"bf16 rule", "bf16 ours", "bf16 oneDNN", "fp32"};
  state.SetLabel(names[route]);
}
BENCHMARK(BM_linear_cross_entropy_bf16_route)
    ->ArgsProduct({{1, 2, 3}, {0}})
    ->Args({2, 108})
    ->Args({2, 432})
    ->ArgNames({"route", "chunk"})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace tinyr2::bench
