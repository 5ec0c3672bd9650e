// Newton–Schulz with bf16 products (kernels/cpu/newton_schulz_bf16.h; SPEC §13 under
// train.precision "bf16", SPEC §6 for the iteration):
//   - against PyTorch float64 on bf16-rounded operands (reference/optim.py, precision "bf16")
//     on both paths, at a bf16-rounding tolerance (see OpParity.NewtonSchulzBf16);
//   - its symmetric product against float64 at fp32-accumulation tolerance, exactly
//     symmetric;
//   - native AVX512_BF16 and emulated give the same bits, and so do 1, 2 and 3 threads;
//   - both give the bits of a scalar model of the header's formulas (the rounding points and
//     the order of the fp32 sums are the contract), on shapes straddling the 12 × 32 tiles;
//   - the property (singular values in the quintic's band) and closeness to the unrounded
//     fp32 iteration, from which it still visibly differs (the rounding is applied);
//   - Muon under bf16 runs it; under fp32 it does not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "core/cpu_features.h"
#include "core/threads.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/newton_schulz.h"
#include "kernels/cpu/newton_schulz_bf16.h"
#include "optim/muon.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
namespace {

using kernels::cpu::round_bf16;
using testing::check_case;
using testing::load_op_cases;
using testing::random_tensor;

std::vector<bool> paths() {
  std::vector<bool> p = {false};
  if (cpu::cpu_features().avx512_bf16) p.push_back(true);
  return p;
}

Tensor ns_bf16(const Tensor& g, int steps, bool native) {
  return optim::newton_schulz(g, steps, MatmulPrecision{true, native});
}

// The C++ sums in fp32 where the oracle sums in float64 (relative difference ~1e-7). When an
// operand lands that close to a bf16 rounding boundary the two round it to neighbouring bf16
// values, 2⁻⁸ apart, and the iteration carries such a flip on with a gain of up to a = 3.44
// per step while producing more of them. Over one or two steps of these small cases there is
// none or nearly none (PyTorch's own fp32-vs-float64 difference: ≤ 5e-7), so the tolerance is
// fp32's, 1e-5, far below what skipping the rounding would cost (≥ 1e-3). By the fifth step
// the flips have grown to the size of the bf16 rounding itself (PyTorch fp32 vs float64: up
// to 1e-2 on these cases, 2–6e-2 at 64 × 200 and 256 × 1024), so five steps are held only to
// 5e-2: a check of the whole iteration (transposition, coefficients, every step), not of
// its last bits; the property test below checks what five steps must deliver.
TEST(OpParity, NewtonSchulzBf16) {
  for (bool native : paths())
    for (auto& c : load_op_cases("newton_schulz_bf16")) {
      SCOPED_TRACE(::testing::Message() << c.name << " native " << native);
      const int steps = c.attr<int>("steps");
      Tape tape;
      check_case(c, tape, {ns_bf16(c.in("g"), steps, native)}, steps <= 2 ? 1e-5 : 5e-2);
      if (steps <= 2) {  // ...and skipping the rounding would show
        EXPECT_GE(testing::relative_error(optim::newton_schulz(c.in("g"), steps), c.outputs[0]),
                  1e-4);
      }
    }
}

// A = r(X) r(X)ᵀ from the lower-triangle tiles: float64 on the rounded operands up to fp32
// accumulation (a few ulps of Σ|x·y|), and exactly symmetric. Sizes straddle the 12 × 32
// tiles, K odd and even, a row stride wider than K.
TEST(NewtonSchulzBf16, SyrkMatchesFloat64OnRoundedOperands) {
  for (auto [n, k, ld] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {13, 7, 9}, {45, 300, 301}, {70, 64, 64}}) {
    const Tensor x = random_tensor({n, ld}, static_cast<uint64_t>(n + k));
    const float* X = x.data();
    for (bool native : paths()) {
      SCOPED_TRACE(::testing::Message() << n << "x" << k << " native " << native);
      std::vector<float> A(static_cast<size_t>(n * n), -1.f);
      kernels::cpu::syrk_bf16(native, n, k, X, ld, A.data());
      bool rounding_shows = false;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(A[i * n + j], A[j * n + i]) << i << "," << j;
          double s = 0, s_abs = 0, s_exact = 0;
          for (int64_t t = 0; t < k; ++t) {
            const double p =
                static_cast<double>(round_bf16(X[i * ld + t])) * round_bf16(X[j * ld + t]);
            s += p;
            s_abs += std::fabs(p);
            s_exact += static_cast<double>(X[i * ld + t]) * X[j * ld + t];
          }
          const double tol = 4e-7 * s_abs * (1 + std::log2(k + 1.0)) + 1e-30;
          ASSERT_NEAR(A[i * n + j], s, tol) << i << "," << j;
          rounding_shows = rounding_shows || std::fabs(s_exact - s) > 10 * tol;
        }
      if (k >= 8) {
        EXPECT_TRUE(rounding_shows) << "the operands were not rounded to bf16";
      }
    }
  }
}

TEST(NewtonSchulzBf16, NativeAgreesWithEmulatedBitForBit) {
  if (!cpu::cpu_features().avx512_bf16) GTEST_SKIP() << "no AVX512_BF16 (or TINYR2_ISA caps it)";
  for (const Shape& shape : {Shape{40, 150}, Shape{150, 40}, Shape{33, 17}, Shape{6, 4, 5}}) {
    const Tensor g = random_tensor(shape, 31);
    const Tensor a = ns_bf16(g, 5, true), b = ns_bf16(g, 5, false);
    for (int64_t i = 0; i < g.numel(); ++i)
      ASSERT_EQ(a.data()[i], b.data()[i]) << shape_str(shape) << " at " << i;
  }
}

// The iteration of newton_schulz_bf16.h written out element by element: every operand of a
// product rounded to bf16 (fp32 denormals flushed to zero first, then nearest even), each
// output summed in fp32 over the pairs (k, k + 1) in ascending order, adding x[k+1]·y[k+1]
// and then x[k]·y[k] (vdpbf16ps's order; the products are exact, so contraction is moot);
// the full symmetric products (no triangle, no tiles, no packing).
float r16(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.f, x) : round_bf16(x);
}
// Σ over pairs of x[t · sx] y[t · sy], t < K.
float pair_dot(const float* x, int64_t sx, const float* y, int64_t sy, int64_t K) {
  float acc = 0.f;
  for (int64_t t = 0; t < K; t += 2) {
    const float xh = t + 1 < K ? r16(x[(t + 1) * sx]) : 0.f;
    const float yh = t + 1 < K ? r16(y[(t + 1) * sy]) : 0.f;
    acc = acc + xh * yh;
    acc = acc + r16(x[t * sx]) * r16(y[t * sy]);
  }
  return acc;
}
std::vector<float> ns_bf16_model(const float* G, int64_t rows, int64_t cols, int steps) {
  const kernels::NewtonSchulzCoeffs k;
  const float inv =
      static_cast<float>(1.0 / (std::sqrt(kernels::cpu::sum_squares(G, rows * cols)) + 1e-7f));
  const bool tall = rows > cols;
  const int64_t n = tall ? cols : rows, m = tall ? rows : cols;
  std::vector<float> X(static_cast<size_t>(n * m)), next(X.size());
  std::vector<float> A(static_cast<size_t>(n * n)), B(A.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) X[i * m + j] = (tall ? G[j * cols + i] : G[i * cols + j]) * inv;
  for (int s = 0; s < steps; ++s) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) A[i * n + j] = pair_dot(&X[i * m], 1, &X[j * m], 1, m);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        B[i * n + j] = std::fma(k.c, pair_dot(&A[i * n], 1, &A[j * n], 1, n), k.b * A[i * n + j]);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        next[i * m + j] = std::fma(k.a, X[i * m + j], pair_dot(&B[i * n], 1, &X[j], m, n));
    std::swap(X, next);
  }
  std::vector<float> out(X.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) (tall ? out[j * cols + i] : out[i * cols + j]) = X[i * m + j];
  return out;
}

// Both paths give the model's bits: wide and tall, odd and even sides, sides that end inside
// a 12-row block or a 32-wide panel (n = 32: the last block overhangs the last panel), one
// and two steps and five.
TEST(NewtonSchulzBf16, MatchesScalarModelBitForBit) {
  for (const Shape& shape : {Shape{40, 150}, Shape{150, 40}, Shape{33, 17}, Shape{32, 70},
                             Shape{13, 65}, Shape{1, 5}, Shape{7, 3}, Shape{50, 50}}) {
    const Tensor g = random_tensor(shape, 36);
    const int64_t rows = shape[0], cols = shape[1];
    for (int steps : {1, 2, 5}) {
      const std::vector<float> want = ns_bf16_model(g.data(), rows, cols, steps);
      for (bool native : paths()) {
        const Tensor got = ns_bf16(g, steps, native);
        for (int64_t i = 0; i < g.numel(); ++i)
          ASSERT_EQ(got.data()[i], want[static_cast<size_t>(i)])
              << shape_str(shape) << " steps " << steps << " native " << native << " at " << i;
      }
    }
  }
}

TEST(NewtonSchulzBf16, SameBitsOnAnyThreadCount) {
  const Tensor g = random_tensor({72, 260}, 32);  // big enough for the parallel tiles
  for (bool native : paths()) {
    Tensor one, two, three;
    {
      threads::ScopedNumThreads t(1);
      one = ns_bf16(g, 5, native);
    }
    {
      threads::ScopedNumThreads t(2);
      two = ns_bf16(g, 5, native);
    }
    {
      threads::ScopedNumThreads t(3);
      three = ns_bf16(g, 5, native);
    }
    for (int64_t i = 0; i < g.numel(); ++i) {
      ASSERT_EQ(one.data()[i], two.data()[i]) << "native " << native << " at " << i;
      ASSERT_EQ(one.data()[i], three.data()[i]) << "native " << native << " at " << i;
    }
  }
}

// Every eigenvalue of the symmetric S (n × n) lies in [lo, hi]: S − lo·I and hi·I − S are
// positive definite (Cholesky in float64 succeeds on both).
bool eigenvalues_within(std::vector<double> S, int64_t n, double lo, double hi) {
  for (double shift_sign : {1.0, -1.0}) {
    std::vector<double> M(S.size());
    for (int64_t i = 0; i < n * n; ++i) M[i] = shift_sign > 0 ? S[i] : -S[i];
    for (int64_t i = 0; i < n; ++i) M[i * n + i] += shift_sign > 0 ? -lo : hi;
    for (int64_t j = 0; j < n; ++j) {
      double d = M[j * n + j];
      for (int64_t t = 0; t < j; ++t) d -= M[j * n + t] * M[j * n + t];
      if (!(d > 0)) return false;
      d = std::sqrt(d);
      M[j * n + j] = d;
      for (int64_t i = j + 1; i < n; ++i) {
        double s = M[i * n + j];
        for (int64_t t = 0; t < j; ++t) s -= M[i * n + t] * M[j * n + t];
        M[i * n + j] = s / d;
      }
    }
  }
  return true;
}

// The fp32 iteration leaves every singular value in [0.6818, 1.1344] (test_optim.cpp); with
// bf16 products the band widens by the rounding, and [0.6, 1.2] must still hold. The result
// stays within a few percent of the fp32 iteration's, yet differs from it by more than fp32
// rounding could (the products were rounded to bf16).
TEST(NewtonSchulzBf16, OrthogonalisesLikeTheFp32Iteration) {
  for (const Shape& shape : {Shape{64, 200}, Shape{150, 50}}) {
    const Tensor g = random_tensor(shape, 33);
    const Tensor fp32 = optim::newton_schulz(g, 5);
    const int64_t rows = shape[0], cols = shape[1], n = std::min(rows, cols);
    for (bool native : paths()) {
      SCOPED_TRACE(::testing::Message() << shape_str(shape) << " native " << native);
      const Tensor x = ns_bf16(g, 5, native);
      const double err = testing::relative_error(x, fp32);
      EXPECT_LE(err, 5e-2);
      EXPECT_GE(err, 1e-3);
      std::vector<double> S(static_cast<size_t>(n * n), 0.0);  // the small side's Gram matrix
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t t = 0; t < std::max(rows, cols); ++t)
            S[i * n + j] +=
                rows <= cols ? static_cast<double>(x.data()[i * cols + t]) * x.data()[j * cols + t]
                             : static_cast<double>(x.data()[t * cols + i]) * x.data()[t * cols + j];
      EXPECT_TRUE(eigenvalues_within(S, n, 0.6 * 0.6, 1.2 * 1.2));
      EXPECT_FALSE(eigenvalues_within(S, n, 0.9 * 0.9, 1.1 * 1.1)) << "not the quintic's band";
    }
  }
}

// Muon routes its Newton–Schulz by MuonConfig::precision: one step with momentum 0 (u = g)
// moves p by −lr·sqrt(rows/cols)·NS(g) with the bf16 NS under bf16, the fp32 one under fp32.
TEST(NewtonSchulzBf16, MuonUsesItUnderBf16Only) {
  const Tensor p0 = random_tensor({60, 20}, 34, 0.02f), g = random_tensor({60, 20}, 35);
  const double lr = 0.02, scale = lr * std::sqrt(3.0);
  for (bool bf16 : {false, true}) {
    const MatmulPrecision precision{bf16, bf16 && cpu::cpu_features().avx512_bf16};
    Tensor p = p0.clone();
    p.mutable_grad() = g.clone();
    optim::Muon opt({{"w", p}}, {.momentum = 0.0, .precision = precision});
    opt.step(lr);
    const Tensor x = optim::newton_schulz(g, 5, precision);
    const Tensor other = optim::newton_schulz(g, 5, MatmulPrecision{!bf16, false});
    double to_x = 0, to_other = 0;
    for (int64_t i = 0; i < p.numel(); ++i) {
      to_x = std::max(to_x, std::fabs(p.data()[i] - (p0.data()[i] - scale * x.data()[i])));
      to_other =
          std::max(to_other, std::fabs(p.data()[i] - (p0.data()[i] - scale * other.data()[i])));
    }
    EXPECT_LE(to_x, 1e-6) << "bf16 " << bf16;
    EXPECT_GE(to_other, 1e-5) << "bf16 " << bf16;
  }
}

}  // namespace
}  // namespace tinyr2
