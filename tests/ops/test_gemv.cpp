// The one-row product of kernels/cpu/gemv.h (the decode step's x · Wᵀ) against a float64 dot
// product, at each ISA level the CPU has: lengths around the 8-, 16-, 32- and 64-wide steps
// and the masked tail, padded row strides,
// alpha/beta ≠ 1/0, through gemm()'s M = 1 dispatch; the same bits on any thread count
// (a product large enough to be split); and stacked_linear's one-row, no-gradient path (every
// part's product read in place) giving the same bits as the stacked copy, and the float64
// products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops_nsa.h"
#include "autograd/tape.h"
#include "core/cpu_features.h"
#include "core/rng.h"
#include "core/threads.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/gemv.h"

namespace tinyr2 {
namespace {

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  rng.normal(v.data(), n);
  return v;
}

// y = alpha · x · Wᵀ + beta · y0 through gemm() (M = 1, Bᵀ), and through gemv() at every
// instruction-set level of its own this CPU has (AVX2, AVX-512; whatever TINYR2_ISA says), each
// element within the float32 error bound of a K-term dot product (γ_K relative to Σ|terms|,
// doubled) of the float64 one.
void check(int64_t N, int64_t K, int64_t pad, float alpha, float beta, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "N " << N << " K " << K << " pad " << pad << " alpha "
                                    << alpha << " beta " << beta);
  const int64_t ldw = K + pad;
  const std::vector<float> x = random_floats(K, seed), W = random_floats(N * ldw, seed + 1);
  const std::vector<float> y0 = random_floats(N + pad, seed + 2);
  std::vector<std::pair<std::string, std::vector<float>>> results;
  results.emplace_back("gemm", y0);
  kernels::cpu::gemm(false, true, 1, N, K, alpha, x.data(), K, W.data(), ldw, beta,
                     results.back().second.data(), N);
  const cpu::IsaLevel have = cpu::isa_level(cpu::detect_cpu_features());
  for (cpu::IsaLevel level : {cpu::IsaLevel::Avx2, cpu::IsaLevel::Avx512})
    if (level <= have && kernels::cpu::gemv_supported(level)) {
      results.emplace_back(std::string("gemv ") + cpu::isa_name(level), y0);
      kernels::cpu::gemv(level, N, K, alpha, x.data(), W.data(), ldw, beta,
                         results.back().second.data());
    }
  const double unit = 2.0 * std::ldexp(1.0, -24) * double(K + 2);
  for (int64_t n = 0; n < N; ++n) {
    double s = 0, mag = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double t = double(x[k]) * W[n * ldw + k];
      s += t, mag += std::abs(t);
    }
    const double want = alpha * s + double(beta) * y0[n];
    const double tol = unit * (std::abs(alpha) * mag + std::abs(beta * y0[n])) + 1e-30;
    for (const auto& [name, y] : results) ASSERT_NEAR(y[n], want, tol) << name << " at " << n;
  }
  for (const auto& [name, y] : results)
    for (int64_t n = N; n < N + pad; ++n)
      ASSERT_EQ(y[n], y0[n]) << name << " past the end at " << n;
}

TEST(Gemv, MatchesFloat64) {
  uint64_t seed = 1;
  for (int64_t K : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130, 256})
    for (int64_t N : {1, 7, 33}) {
      check(N, K, 0, 1.f, 0.f, seed++);
      check(N, K, 3, 0.5f, -1.5f, seed++);
    }
}

TEST(Gemv, SameBitsOnAnyThreadCount) {
  const int64_t N = 4500, K = 256;  // 1.15 M weights: split over the threads
  const std::vector<float> x = random_floats(K, 7), W = random_floats(N * K, 8);
  std::vector<std::vector<float>> ys;
  for (int nt : {1, 2, 3}) {
    threads::ScopedNumThreads scoped(nt);
    std::vector<float> y(static_cast<size_t>(N));
    kernels::cpu::gemm(false, true, 1, N, K, 1.f, x.data(), K, W.data(), K, 0.f, y.data(), N);
    ys.push_back(y);
  }
  for (size_t i = 1; i < ys.size(); ++i)
    EXPECT_EQ(std::memcmp(ys[0].data(), ys[i].data(), ys[0].size() * sizeof(float)), 0)
        << "thread count " << i + 1;
}

// Two outputs of three parts (one with RoPE on 2 heads), one row: without gradients the parts
// are multiplied in place, with them through the stacked copy; the same bits either way, and
// the float64 products.
TEST(Gemv, StackedLinearOneRowWithoutGradient) {
  const int64_t C = 40;
  auto tensor = [](const Shape& s, uint64_t seed) {
    return Tensor::from_vector(s, random_floats(shape_numel(s), seed));
  };
  const Tensor x = tensor({1, 1, C}, 1), w1 = tensor({24, C}, 2), w2 = tensor({9, C}, 3);
  const std::vector<ops::StackedOutput> outputs = {{{{w1, 0, 8}, {w2, 1, 9}}, 2, 4},
                                                   {{{w1, 8, 24}}, 0, 0}};
  const auto rope = ops::make_rope_table({5}, 4, 10000.f);
  std::vector<Tensor> plain, graded;
  {
    Tape tape;
    NoGradGuard no_grad(tape);
    plain = ops::stacked_linear(tape, x, outputs, rope);
  }
  {
    Tape tape;
    w1.set_requires_grad(true);
    graded = ops::stacked_linear(tape, x, outputs, rope);
    w1.set_requires_grad(false);
  }
  ASSERT_EQ(plain.size(), 2u);
  for (size_t o = 0; o < 2; ++o) {
    ASSERT_EQ(plain[o].shape(), graded[o].shape());
    EXPECT_EQ(std::memcmp(plain[o].data(), graded[o].data(), plain[o].numel() * sizeof(float)), 0)
        << "output " << o;
  }
  // Output 1 has no RoPE: its columns are x · w1[8:24]ᵀ.
  for (int64_t n = 0; n < 16; ++n) {
    double s = 0, mag = 0;
    for (int64_t k = 0; k < C; ++k) {
      const double t = double(x.data()[k]) * w1.data()[(8 + n) * C + k];
      s += t, mag += std::abs(t);
    }
    EXPECT_NEAR(plain[1].data()[n], s, 2.0 * std::ldexp(1.0, -24) * (C + 2) * mag) << n;
  }
  // Output 0, head 0's first (un-rotated) entries: x · w1[0:2]ᵀ.
  for (int64_t n = 0; n < 2; ++n) {
    double s = 0, mag = 0;
    for (int64_t k = 0; k < C; ++k) {
      const double t = double(x.data()[k]) * w1.data()[n * C + k];
      s += t, mag += std::abs(t);
    }
    EXPECT_NEAR(plain[0].data()[n], s, 2.0 * std::ldexp(1.0, -24) * (C + 2) * mag) << n;
  }
}

}  // namespace
}  // namespace tinyr2
