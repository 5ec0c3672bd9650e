// Philox RNG: known-answer vectors from the Random123 paper's test suite, thread-count
// independence, and the moments of its uniform and normal draws.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "core/threads.h"

namespace tinyr2 {

TEST(Rng, PhiloxKnownAnswers) {
  // Random123 kat_vectors, philox4x32 with 10 rounds.
  EXPECT_EQ(philox4x32(0, 0, 0),
            (std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32(~0ull, ~0ull, ~0ull),
            (std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32(0x85a308d3243f6a88ull, 0x0370734413198a2eull, 0x299f31d0a4093822ull),
            (std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Rng, SameNumbersForAnyThreadCount) {
  const int64_t n = 1 << 20;
  std::vector<float> a(n), b(n);
  const int saved = threads::num_threads();
  threads::set_num_threads(1);
  Rng r1(42);
  r1.normal(a.data(), n);
  threads::set_num_threads(2);
  Rng r2(42);
  r2.normal(b.data(), n);
  threads::set_num_threads(saved);
  EXPECT_EQ(a, b);
  EXPECT_EQ(r1.offset(), r2.offset());
}

TEST(Rng, SplitCallsEqualOneCall) {
  // Two fills of 8 values continue the stream exactly like one fill of 16.
  std::vector<float> whole(16), parts(16);
  Rng a(7), b(7);
  a.uniform(whole.data(), 16);
  b.uniform(parts.data(), 8);
  b.uniform(parts.data() + 8, 8);
  EXPECT_EQ(whole, parts);
}

TEST(Rng, Moments) {
  const int64_t n = 1 << 20;
  std::vector<float> x(n);
  Rng r(1);
  r.normal(x.data(), n, 0.f, 1.f);
  double m = 0, m2 = 0, m4 = 0;
  for (float v : x) m += v, m2 += double(v) * v, m4 += std::pow(double(v), 4);
  m /= n, m2 /= n, m4 /= n;
  // Standard errors for n = 2^20: mean 1e-3, variance 1.4e-3, 4th moment ~1e-2.
  EXPECT_NEAR(m, 0.0, 5e-3);
  EXPECT_NEAR(m2, 1.0, 7e-3);
  EXPECT_NEAR(m4, 3.0, 5e-2);  // Gaussian kurtosis
  r.uniform(x.data(), n, -1.f, 3.f);
  double u = 0, lo = 1e9, hi = -1e9;
  for (float v : x) u += v, lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
  EXPECT_NEAR(u / n, 1.0, 1e-2);
  EXPECT_GE(lo, -1.0);
  EXPECT_LT(hi, 3.0);
}

TEST(Threads, PhysicalCoresIsPositive) {
  EXPECT_GE(threads::physical_cores(), 1);
}

}  // namespace tinyr2
