// The two sgemm paths of kernels/cpu/gemm_paths.h (OpenBLAS, oneDNN) and gemm() that picks
// between them, against a float64 triple loop: all four transpose combinations, sides 1, 7,
// 33 and larger, row strides wider than the matrices (the padding must stay untouched),
// alpha/beta ≠ 1/0; oneDNN inside an OpenMP parallel region (one product per thread, as the
// MoE experts and gemm_batched's small path run); the products gemm() computes transposed;
// the rule's shape classes and ISA levels.
// The end-to-end check with TINYR2_ISA lowered is tests/cli/test_blas_kernel.cpp.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/threads.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_paths.h"

namespace tinyr2 {
namespace {

using kernels::cpu::GemmPath;

struct Product {
  bool ta = false, tb = false;
  int64_t M = 1, N = 1, K = 1, pad = 0;
  float alpha = 1.f, beta = 0.f;
  int64_t lda() const { return (ta ? M : K) + pad; }
  int64_t ldb() const { return (tb ? K : N) + pad; }
  int64_t ldc() const { return N + pad; }
};

struct Operands {
  std::vector<float> A, B, C;
};

Operands operands(const Product& p, uint64_t seed) {
  Operands o;
  o.A.resize(static_cast<size_t>((p.ta ? p.K : p.M) * p.lda()));
  o.B.resize(static_cast<size_t>((p.tb ? p.N : p.K) * p.ldb()));
  o.C.resize(static_cast<size_t>(p.M * p.ldc()));
  Rng rng(seed);
  for (auto* v : {&o.A, &o.B, &o.C}) rng.normal(v->data(), static_cast<int64_t>(v->size()));
  return o;
}

using GemmFn = std::function<void(const Product&, Operands&)>;

// C = alpha·op(A)·op(B) + beta·C in double; each element within the float32 error bound of
// a K-term dot product (γ_K = K·2⁻²⁴ relative to Σ|terms|, doubled for slack) of it.
void check(const Product& p, const GemmFn& fn, uint64_t seed) {
  SCOPED_TRACE(::testing::Message()
               << (p.ta ? 'T' : 'N') << (p.tb ? 'T' : 'N') << " M " << p.M << " N " << p.N << " K "
               << p.K << " pad " << p.pad << " alpha " << p.alpha << " beta " << p.beta);
  Operands o = operands(p, seed);
  const Operands before = o;
  fn(p, o);
  const auto a = [&](int64_t i, int64_t k) {
    return double(p.ta ? before.A[k * p.lda() + i] : before.A[i * p.lda() + k]);
  };
  const auto b = [&](int64_t k, int64_t j) {
    return double(p.tb ? before.B[j * p.ldb() + k] : before.B[k * p.ldb() + j]);
  };
  const double unit = 2.0 * std::ldexp(1.0, -24) * double(p.K + 2);
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = 0; j < p.N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < p.K; ++k) s += a(i, k) * b(k, j), mag += std::abs(a(i, k) * b(k, j));
      const double c0 = before.C[i * p.ldc() + j];
      const double want = p.alpha * s + p.beta * c0;
      const double tol = unit * (std::abs(p.alpha) * mag + std::abs(p.beta * c0)) + 1e-30;
      ASSERT_NEAR(o.C[i * p.ldc() + j], want, tol) << "at (" << i << ", " << j << ")";
    }
    for (int64_t j = p.N; j < p.ldc(); ++j)  // the padding of each row is left alone
      ASSERT_EQ(o.C[i * p.ldc() + j], before.C[i * p.ldc() + j]) << "padding at " << i;
  }
}

const GemmFn kOpenBlas = [](const Product& p, Operands& o) {
  kernels::cpu::gemm_openblas(p.ta, p.tb, p.M, p.N, p.K, p.alpha, o.A.data(), p.lda(), o.B.data(),
                              p.ldb(), p.beta, o.C.data(), p.ldc());
};
const GemmFn kOneDnn = [](const Product& p, Operands& o) {
  ASSERT_TRUE(kernels::cpu::gemm_onednn(p.ta, p.tb, p.M, p.N, p.K, p.alpha, o.A.data(), p.lda(),
                                        o.B.data(), p.ldb(), p.beta, o.C.data(), p.ldc()));
};
const GemmFn kDispatched = [](const Product& p, Operands& o) {
  kernels::cpu::gemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, o.A.data(), p.lda(), o.B.data(), p.ldb(),
                     p.beta, o.C.data(), p.ldc());
};

// Odd sides, every transpose combination, tight and padded strides, two alpha/beta pairs.
std::vector<Product> odd_products() {
  const int64_t shapes[][3] = {{1, 1, 1},  {1, 7, 33},   {7, 1, 33},   {33, 7, 1},
                               {7, 33, 7}, {33, 33, 33}, {65, 70, 129}};
  std::vector<Product> out;
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (int64_t pad : {0, 3}) {
        Product p{(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], pad};
        if (pad) p.alpha = 0.5f, p.beta = -1.5f;
        out.push_back(p);
      }
  return out;
}

TEST(GemmPaths, OpenBlasMatchesFloat64) {
  uint64_t seed = 1;
  for (const Product& p : odd_products()) check(p, kOpenBlas, seed++);
}

TEST(GemmPaths, OneDnnMatchesFloat64) {
  uint64_t seed = 100;
  for (const Product& p : odd_products()) check(p, kOneDnn, seed++);
}

// gemm() on shapes of each class of the rule (tiny → OpenBLAS; medium → oneDNN from AVX-512
// on; large → OpenBLAS), every transpose combination, on 1 and 2 threads.
TEST(GemmPaths, DispatchedMatchesFloat64OnEveryClass) {
  const int64_t shapes[][3] = {{7, 256, 7}, {96, 80, 72}, {256, 256, 256}};
  uint64_t seed = 200;
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads scoped(nt);
    for (const auto& s : shapes)
      for (int t = 0; t < 4; ++t)
        check({(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], 1, 1.f, 1.f}, kDispatched, seed++);
  }
  // K = 0: C = beta·C on every path.
  check({false, true, 5, 6, 0, 2, 1.f, 0.5f}, kDispatched, seed++);
  check({false, true, 5, 6, 0, 2, 1.f, 0.f}, kDispatched, seed++);
}

// gemm()'s transposed class (Cᵀ = op(B)ᵀ·op(A)ᵀ into a scratch, then transposed into C with
// beta·C added): every transpose combination, tight and padded strides, beta 0 and ≠ 0, on
// shapes of the class (NT, 16-32 rows, long K; the NSA block compressor's product scaled
// down) and outside it; and gemm() on a shape the rule sends there, on 1 and 2 threads.
TEST(GemmPaths, TransposedMatchesFloat64) {
  const int64_t shapes[][3] = {{32, 64, 600}, {16, 70, 513}, {7, 33, 65}, {33, 7, 1}};
  uint64_t seed = 500;
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (int64_t pad : {0, 3}) {
        Product p{(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], pad};
        if (pad) p.alpha = 0.5f, p.beta = -1.5f;
        check(
            p,
            [](const Product& q, Operands& o) {
              kernels::cpu::gemm_transposed(q.ta, q.tb, q.M, q.N, q.K, q.alpha, o.A.data(), q.lda(),
                                            o.B.data(), q.ldb(), q.beta, o.C.data(), q.ldc());
            },
            seed++);
      }
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads scoped(nt);
    for (const float beta : {0.f, 1.f})
      check({false, true, 24, 80, 600, 2, 1.f, beta}, kDispatched, seed++);
  }
}

// With beta = 0, C is written, never read: NaN there changes nothing, bit for bit.
TEST(GemmPaths, TransposedIgnoresCWhenBetaIsZero) {
  const Product p{false, true, 32, 64, 512, 1};
  Operands zero = operands(p, 600), nan = zero;
  std::fill(zero.C.begin(), zero.C.end(), 0.f);
  std::fill(nan.C.begin(), nan.C.end(), std::nanf(""));
  for (Operands* o : {&zero, &nan})
    kernels::cpu::gemm_transposed(p.ta, p.tb, p.M, p.N, p.K, 1.f, o->A.data(), p.lda(), o->B.data(),
                                  p.ldb(), 0.f, o->C.data(), p.ldc());
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j)
      ASSERT_EQ(nan.C[i * p.ldc() + j], zero.C[i * p.ldc() + j]) << "at (" << i << ", " << j << ")";
}

// oneDNN inside a parallel region, one product per thread (it must run single-threaded
// there, on its own operands), and gemm_batched on both of its strategies.
TEST(GemmPaths, OneDnnInsideAParallelRegion) {
  threads::ScopedNumThreads scoped(2);
  const Product p{false, true, 96, 80, 72};
  std::vector<Operands> ops;
  for (int i = 0; i < 4; ++i) ops.push_back(operands(p, 300 + i));
  const std::vector<Operands> before = ops;
  std::vector<int> ok(4, 0);
#pragma omp parallel for schedule(static, 1)
  for (int i = 0; i < 4; ++i)
    ok[i] = kernels::cpu::gemm_onednn(p.ta, p.tb, p.M, p.N, p.K, p.alpha, ops[i].A.data(), p.lda(),
                                      ops[i].B.data(), p.ldb(), p.beta, ops[i].C.data(), p.ldc());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ok[i]);
    Operands serial = before[i];
    kOneDnn(p, serial);
    EXPECT_EQ(serial.C, ops[i].C) << "product " << i;  // same kernel, same order
    check(
        p, [&](const Product&, Operands& o) { o.C = ops[i].C; }, 300 + i);
  }
}

TEST(GemmPaths, BatchedOnBothStrategies) {
  threads::ScopedNumThreads scoped(2);
  // Small products, batch >= threads: one product per thread. Medium ones: one after another.
  for (const Product& p : {Product{false, false, 9, 11, 13}, Product{true, false, 96, 80, 72}}) {
    const int64_t batch = 5;
    std::vector<Operands> each;
    for (int64_t i = 0; i < batch; ++i) each.push_back(operands(p, 400 + i));
    Operands packed;
    for (const auto& e : each) {
      packed.A.insert(packed.A.end(), e.A.begin(), e.A.end());
      packed.B.insert(packed.B.end(), e.B.begin(), e.B.end());
      packed.C.insert(packed.C.end(), e.C.begin(), e.C.end());
    }
    const auto sa = static_cast<int64_t>(each[0].A.size()),
               sb = static_cast<int64_t>(each[0].B.size()),
               sc = static_cast<int64_t>(each[0].C.size());
    kernels::cpu::gemm_batched(batch, p.ta, p.tb, p.M, p.N, p.K, p.alpha, packed.A.data(), p.lda(),
                               sa, packed.B.data(), p.ldb(), sb, p.beta, packed.C.data(), p.ldc(),
                               sc);
    for (int64_t i = 0; i < batch; ++i) {
      const std::vector<float> got(packed.C.begin() + i * sc, packed.C.begin() + (i + 1) * sc);
      check(
          p, [&](const Product&, Operands& o) { o.C = got; }, 400 + i);
    }
  }
}

TEST(GemmPaths, RuleByShapeClassAndIsaLevel) {
  using cpu::IsaLevel;
  const auto path = [](int64_t M, int64_t N, int64_t K, IsaLevel l) {
    return kernels::cpu::gemm_path_for(false, true, M, N, K, l);
  };
  // Below AVX-512: OpenBLAS for every class.
  for (IsaLevel l : {IsaLevel::Generic, IsaLevel::Avx2})
    for (const auto& s : {std::array<int64_t, 3>{7, 256, 7}, {112, 50257, 256}, {2048, 1024, 256}})
      EXPECT_EQ(path(s[0], s[1], s[2], l), GemmPath::OpenBlas) << cpu::isa_name(l);
  for (IsaLevel l : {IsaLevel::Avx512, IsaLevel::Avx512Bf16, IsaLevel::Amx}) {
    SCOPED_TRACE(cpu::isa_name(l));
    EXPECT_EQ(path(7, 256, 7, l), GemmPath::OpenBlas);        // M·N·K < 2¹⁹, a side < 16
    EXPECT_EQ(path(2048, 8, 256, l), GemmPath::OneDnn);       // skinny: a rank-8 LoRA product
    EXPECT_EQ(path(64, 64, 127, l), GemmPath::OpenBlas);      // M·N·K < 2¹⁹
    EXPECT_EQ(path(64, 64, 128, l), GemmPath::OneDnn);        // the smallest medium one
    EXPECT_EQ(path(112, 50257, 256, l), GemmPath::OneDnn);    // tied head chunk: a side < 256
    EXPECT_EQ(path(2048, 768, 256, l), GemmPath::OneDnn);     // M·N·K < 2²⁹
    EXPECT_EQ(path(2048, 1024, 256, l), GemmPath::OpenBlas);  // large
    EXPECT_EQ(path(int64_t{1} << 40, 1 << 20, 1 << 20, l), GemmPath::OpenBlas);  // no overflow
  }
  EXPECT_EQ(kernels::cpu::gemm_isa_level(), cpu::isa_level(cpu::cpu_features()));
}

// The transposed class: NT, 16 ≤ M ≤ 32, N ≥ 64, K ≥ 512, from AVX-512 on.
TEST(GemmPaths, TransposedClassByShapeAndIsaLevel) {
  using cpu::IsaLevel;
  const auto transposed = [](bool ta, bool tb, int64_t M, int64_t N, int64_t K, IsaLevel l) {
    return kernels::cpu::gemm_transposed_for(ta, tb, M, N, K, l);
  };
  for (IsaLevel l : {IsaLevel::Avx512, IsaLevel::Avx512Bf16, IsaLevel::Amx}) {
    SCOPED_TRACE(cpu::isa_name(l));
    EXPECT_TRUE(transposed(false, true, 32, 256, 4096, l));  // the NSA block compressor
    EXPECT_TRUE(transposed(false, true, 16, 64, 512, l));    // the smallest one
    EXPECT_FALSE(transposed(false, true, 15, 256, 4096, l));
    EXPECT_FALSE(transposed(false, true, 33, 256, 4096, l));
    EXPECT_FALSE(transposed(false, true, 32, 63, 4096, l));
    EXPECT_FALSE(transposed(false, true, 32, 256, 511, l));
    EXPECT_FALSE(transposed(false, false, 32, 256, 4096, l));  // NN, TN, TT: direct
    EXPECT_FALSE(transposed(true, false, 32, 256, 4096, l));
    EXPECT_FALSE(transposed(true, true, 32, 256, 4096, l));
  }
  for (IsaLevel l : {IsaLevel::Generic, IsaLevel::Avx2})
    EXPECT_FALSE(transposed(false, true, 32, 256, 4096, l)) << cpu::isa_name(l);
}

}  // namespace
}  // namespace tinyr2
