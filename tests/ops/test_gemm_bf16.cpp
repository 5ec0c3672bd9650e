// kernels::cpu::gemm_bf16 and the bf16 head (SPEC §13) against float64 on bf16-rounded
// operands: the only error left is the fp32 accumulation, so the tolerance is tight (a few
// fp32 ulps of Σ|a·b|), far below the bf16 rounding the test also shows is applied. Both
// paths (native AVX512_BF16 where the CPU has it, emulated everywhere), every transpose,
// odd shapes, K past one slab, row strides wider than the matrix, alpha/beta; the native
// path gives the same bits on 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "core/cpu_features.h"
#include "core/rng.h"
#include "core/threads.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/linear_cross_entropy_bf16.h"
#include "support/bf16_reference.h"

namespace tinyr2 {
namespace {

using kernels::cpu::round_bf16;

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  rng.normal(v.data(), static_cast<int64_t>(n));
  return v;
}

std::vector<bool> paths() {
  std::vector<bool> p = {false};
  if (cpu::cpu_features().avx512_bf16) p.push_back(true);
  return p;
}

TEST(GemmBf16, RoundsToNearestEven) {
  // Closed forms: bf16 keeps 8 significant bits (7 stored).
  const float half_ulp = std::ldexp(1.f, -8);
  EXPECT_EQ(round_bf16(1.f + half_ulp), 1.f);                           // tie → even (down)
  EXPECT_EQ(round_bf16(1.f + 3 * half_ulp), 1.f + 4 * half_ulp);        // tie → even (up)
  EXPECT_EQ(round_bf16(1.f + half_ulp * 1.0001f), 1.f + 2 * half_ulp);  // above the tie
  EXPECT_EQ(round_bf16(-3.f), -3.f);
  EXPECT_EQ(round_bf16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_bf16(3.4e38f), std::numeric_limits<float>::infinity());  // past bf16's max
}

using testing::Bf16GemmCase;
using testing::Bf16GemmOperands;

void check_gemm(bool native, const Bf16GemmCase& c) {
  SCOPED_TRACE(::testing::Message() << "native " << native << " ta " << c.ta << " tb " << c.tb
                                    << " M " << c.M << " N " << c.N << " K " << c.K);
  const Bf16GemmOperands ops(c, 1, 2, 3);
  std::vector<float> C = ops.C0;
  kernels::cpu::gemm_bf16(native, c.ta, c.tb, c.M, c.N, c.K, c.alpha, ops.A.data(), ops.lda,
                          ops.B.data(), ops.ldb, c.beta, C.data(), ops.ldc);
  testing::expect_matches_bf16_reference(c, ops, C, /*expect_rounding=*/c.K >= 8);
}

TEST(GemmBf16, MatchesFloat64OnRoundedOperands) {
  const std::vector<Bf16GemmCase> cases = {
      {false, false, 1, 1, 1, 0, 1.f, 0.f},     {false, true, 13, 37, 29, 3, 1.f, 0.f},
      {true, false, 25, 33, 300, 0, 0.5f, 1.f}, {true, true, 12, 32, 64, 5, 1.f, -0.75f},
      {false, false, 30, 70, 513, 2, 2.f, 1.f}, {false, true, 50, 65, 257, 0, 1.f, 0.f},
      {true, false, 7, 3, 1, 1, 1.f, 0.5f},     {true, true, 40, 17, 31, 0, -1.f, 0.f},
  };
  for (bool native : paths())
    for (const Bf16GemmCase& c : cases) check_gemm(native, c);
}

TEST(GemmBf16, KZeroScalesC) {
  for (bool native : paths()) {
    std::vector<float> C = {1.f, 2.f, 3.f, 4.f};
    kernels::cpu::gemm_bf16(native, false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f,
                            C.data(), 2);
    EXPECT_EQ(C, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f}));
  }
}

TEST(GemmBf16, NativeAgreesWithEmulatedAndIgnoresThreadCount) {
  if (!cpu::cpu_features().avx512_bf16) GTEST_SKIP() << "no AVX512_BF16 (or TINYR2_ISA caps it)";
  const int64_t M = 70, N = 90, K = 600;
  const auto A = random_floats(static_cast<size_t>(M * K), 4);
  const auto B = random_floats(static_cast<size_t>(N * K), 5);
  std::vector<float> emulated(static_cast<size_t>(M * N)), one(emulated.size()),
      two(emulated.size());
  kernels::cpu::gemm_bf16(false, false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f,
                          emulated.data(), N);
  {
    threads::ScopedNumThreads t(1);
    kernels::cpu::gemm_bf16(true, false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f,
                            one.data(), N);
  }
  {
    threads::ScopedNumThreads t(2);
    kernels::cpu::gemm_bf16(true, false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f,
                            two.data(), N);
  }
  EXPECT_EQ(one, two) << "the native result depends on the thread count";
  for (size_t i = 0; i < one.size(); ++i)
    ASSERT_NEAR(one[i], emulated[i], 2e-5 * std::sqrt(static_cast<double>(K)) * 4) << i;
}

// The bf16 head against float64: logits from the rounded h and W, the loss and G in float64;
// dh = G·W and dW = Gᵀ·h with G rounded to bf16 by the kernel, so their tolerance is bf16's
// (2⁻⁸ of Σ|G||W|), the loss's fp32's. Every route of the native head (own kernel, oneDNN,
// the rule's), each giving the same bits on a second call.
TEST(GemmBf16, LinearCrossEntropyHeadMatchesFloat64) {
  const int64_t N = 13, C = 24, V = 70;
  const int32_t ignore = -100;
  const auto h = random_floats(static_cast<size_t>(N * C), 6);
  const auto W = random_floats(static_cast<size_t>(V * C), 7);
  Rng rng(8);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (auto& x : t) x = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(V)));
  t[3] = ignore;
  const int64_t count = N - 1;
  const float scale = 1.f / static_cast<float>(count);
  // Reference.
  std::vector<double> G(static_cast<size_t>(N * V), 0.0);
  double loss = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> z(static_cast<size_t>(V));
    double m = -1e300;
    for (int64_t v = 0; v < V; ++v) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c)
        s += static_cast<double>(round_bf16(h[n * C + c])) * round_bf16(W[v * C + c]);
      z[v] = s;
      m = std::max(m, s);
    }
    if (t[n] == ignore) continue;
    double total = 0;
    for (double x : z) total += std::exp(x - m);
    const double lse = m + std::log(total);
    loss += lse - z[t[n]];
    for (int64_t v = 0; v < V; ++v)
      G[n * V + v] = scale * (std::exp(z[v] - lse) - (v == t[n] ? 1.0 : 0.0));
  }
  using kernels::cpu::Bf16HeadRoute;
  std::vector<std::pair<bool, Bf16HeadRoute>> runs = {{false, Bf16HeadRoute::Rule}};
  if (cpu::cpu_features().avx512_bf16)
    runs.insert(runs.end(), {{true, Bf16HeadRoute::Rule},
                             {true, Bf16HeadRoute::OwnKernel},
                             {true, Bf16HeadRoute::OneDnn}});
  for (const auto& [native, route] : runs) {
    SCOPED_TRACE(::testing::Message()
                 << "native " << native << " route " << static_cast<int>(route));
    std::vector<float> dh(static_cast<size_t>(N * C)), dW(static_cast<size_t>(V * C));
    auto run = [&] {
      return kernels::cpu::linear_cross_entropy_bf16_on(
          route, native, h.data(), W.data(), t.data(), N, C, V, ignore, scale, nullptr, dh.data(),
          dW.data(), /*chunk_rows=*/5);  // three chunks: dW accumulates across them
    };
    const double sum = run();
    const std::vector<float> dh1 = dh, dW1 = dW;
    EXPECT_EQ(run(), sum);  // a second call gives the same bits
    EXPECT_EQ(dh, dh1);
    EXPECT_EQ(dW, dW1);
    EXPECT_NEAR(sum, loss, 1e-5 * loss);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double ref = 0, mag = 0;
        for (int64_t v = 0; v < V; ++v) {
          ref += G[n * V + v] * round_bf16(W[v * C + c]);
          mag += std::fabs(G[n * V + v] * W[v * C + c]);
        }
        ASSERT_NEAR(dh[n * C + c], ref, 8e-3 * mag + 1e-7) << "dh " << n << "," << c;
      }
    for (int64_t v = 0; v < V; ++v)
      for (int64_t c = 0; c < C; ++c) {
        double ref = 0, mag = 0;
        for (int64_t n = 0; n < N; ++n) {
          ref += G[n * V + v] * round_bf16(h[n * C + c]);
          mag += std::fabs(G[n * V + v] * h[n * C + c]);
        }
        ASSERT_NEAR(dW[v * C + c], ref, 8e-3 * mag + 1e-7) << "dW " << v << "," << c;
      }
  }
}

}  // namespace
}  // namespace tinyr2
