// The oneDNN bf16 matmul path of the native bf16 products (kernels/cpu/gemm_bf16_onednn.h,
// SPEC §13): its rounding is to_bf16's bit for bit (ties to even, NaN, infinities, overflow;
// fp32 denormals flushed to zero like vcvtneps2bf16), and its products equal float64 on the
// bf16-rounded operands within fp32 accumulation, for every transpose, row strides wider than
// the matrix, alpha and beta, and give the same bits on a second call at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/rng.h"
#include "core/threads.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_onednn.h"
#include "support/bf16_reference.h"

namespace tinyr2 {
namespace {

using kernels::cpu::round_bf16;
using kernels::cpu::to_bf16;

bool has_bf16() {
  return cpu::cpu_features().avx512_bf16;
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  rng.normal(v.data(), static_cast<int64_t>(n));
  return v;
}

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

TEST(GemmBf16OneDnn, RoundingIsToBf16BitForBit) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512_BF16 (or TINYR2_ISA caps it)";
  // Random normals at several scales, exact ties (low half 0x8000, both parities of the kept
  // bit), one below and above each tie, specials; 1000 + 37 columns exercise the masked tail.
  Rng rng(11);
  const int64_t rows = 3, cols = 1037, ld = cols + 5;
  std::vector<float> x(static_cast<size_t>(rows * ld), 0.f);
  rng.normal(x.data(), static_cast<int64_t>(x.size()));
  for (int64_t i = 0; i < rows * ld; i += 7) x[i] *= 1e30f;
  for (uint32_t i = 0; i < 300; ++i) {
    const uint32_t hi = (0x3f80u + 3 * i) << 16;  // 1.0 up, both parities
    x[i] = from_bits(hi | 0x8000u);               // tie
    x[ld + i] = from_bits(hi | 0x7fffu);          // just below
    x[2 * ld + i] = from_bits(hi | 0x8001u);      // just above
    x[400 + i] = -from_bits(hi | 0x8000u);        // negative ties
  }
  const float inf = std::numeric_limits<float>::infinity();
  x[800] = inf;
  x[801] = -inf;
  x[802] = std::numeric_limits<float>::quiet_NaN();
  x[803] = 3.4e38f;                            // rounds past bf16's largest finite value: +inf
  x[804] = -3.4e38f;                           // -inf
  x[805] = std::numeric_limits<float>::min();  // smallest normal
  x[806] = 1e-40f;                             // denormal: flushed to +0
  x[807] = -1e-40f;                            // -0
  std::vector<uint16_t> out(static_cast<size_t>(rows * cols));
  kernels::cpu::to_bf16_rows(x.data(), rows, cols, ld, out.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = x[r * ld + c];
      const uint16_t got = out[r * cols + c];
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(kernels::cpu::from_bf16(got))) << c;
      } else if (std::fpclassify(v) == FP_SUBNORMAL) {
        EXPECT_EQ(got, std::signbit(v) ? 0x8000u : 0u) << c;
      } else {
        ASSERT_EQ(got, to_bf16(v)) << r << "," << c << " x " << v;
      }
    }
}

using testing::Bf16GemmCase;
using testing::Bf16GemmOperands;

// One product on the oneDNN path against float64 on round_bf16 of both operands.
void check(const Bf16GemmCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "ta " << c.ta << " tb " << c.tb << " M " << c.M << " N " << c.N << " K " << c.K
               << " alpha " << c.alpha << " beta " << c.beta);
  const Bf16GemmOperands ops(c, 21, 22, 23);
  std::vector<uint16_t> workspace;
  auto run = [&] {
    std::vector<float> C = ops.C0;
    EXPECT_TRUE(kernels::cpu::gemm_bf16_onednn(c.ta, c.tb, c.M, c.N, c.K, c.alpha, ops.A.data(),
                                               ops.lda, ops.B.data(), ops.ldb, c.beta, C.data(),
                                               ops.ldc, workspace));
    return C;
  };
  const std::vector<float> C = run();
  EXPECT_EQ(C, run()) << "a second call gave other bits";
  testing::expect_matches_bf16_reference(c, ops, C, /*expect_rounding=*/true);
}

TEST(GemmBf16OneDnn, MatchesFloat64OnRoundedOperandsAndRepeatsBits) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512_BF16 (or TINYR2_ISA caps it)";
  const std::vector<Bf16GemmCase> cases = {
      {false, false, 1, 1, 9, 0, 1.f, 0.f},     {false, true, 13, 37, 29, 3, 1.f, 0.f},
      {true, false, 25, 33, 300, 0, 0.5f, 1.f}, {true, true, 12, 32, 64, 5, 1.f, -0.75f},
      {false, false, 30, 70, 513, 2, 2.f, 1.f}, {false, true, 50, 65, 257, 0, 1.f, 0.f},
      {true, false, 64, 40, 1500, 1, 1.f, 1.f}, {false, false, 8, 48, 2100, 0, 1.f, 0.f},
  };
  for (int threads : {1, 2}) {
    threads::ScopedNumThreads t(threads);
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    for (const Bf16GemmCase& c : cases) check(c);
  }
}

// gemm_bf16 (native) on a shape its rule sends to oneDNN gives oneDNN's bits; on one it keeps
// for the own kernel, the own kernel's. The rule sends a large NN product to oneDNN and keeps
// NT and small products.
TEST(GemmBf16OneDnn, NativePathFollowsTheShapeRule) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512_BF16 (or TINYR2_ISA caps it)";
  struct Shape {
    bool tb;
    int64_t M, N, K;
    bool onednn;
  };
  for (const Shape& c : std::vector<Shape>{{false, 256, 256, 1024, true},
                                           {true, 256, 256, 1024, false},
                                           {false, 8, 16, 16, false}}) {
    SCOPED_TRACE(::testing::Message() << "tb " << c.tb << " " << c.M << "x" << c.N << "x" << c.K);
    EXPECT_EQ(kernels::cpu::gemm_bf16_uses_onednn(false, c.tb, c.M, c.N, c.K), c.onednn);
    const int64_t ldb = c.tb ? c.K : c.N;
    const auto A = random_floats(static_cast<size_t>(c.M * c.K), 31);
    const auto B = random_floats(static_cast<size_t>(c.N * c.K), 32);
    std::vector<float> native(static_cast<size_t>(c.M * c.N)), direct(native.size());
    kernels::cpu::gemm_bf16(true, false, c.tb, c.M, c.N, c.K, 1.f, A.data(), c.K, B.data(), ldb,
                            0.f, native.data(), c.N);
    if (c.onednn) {
      std::vector<uint16_t> workspace;
      ASSERT_TRUE(kernels::cpu::gemm_bf16_onednn(false, c.tb, c.M, c.N, c.K, 1.f, A.data(), c.K,
                                                 B.data(), ldb, 0.f, direct.data(), c.N,
                                                 workspace));
    } else {
      kernels::cpu::PackedBf16B pb;
      kernels::cpu::pack_bf16_b(c.tb, c.K, c.N, B.data(), ldb, pb);
      kernels::cpu::gemm_bf16_packed(false, c.M, c.K, 1.f, A.data(), c.K, pb, 0.f, direct.data(),
                                     c.N);
    }
    EXPECT_EQ(native, direct);
  }
}

}  // namespace
}  // namespace tinyr2
