// The float64 reference of a bf16 product (SPEC §13), shared by the bf16 GEMM tests: C from
// a bf16 path against alpha·Σ round_bf16(a)·round_bf16(b) + beta·C0 summed in double. The
// only error left is the kernel's fp32 accumulation, so the bound is a few fp32 ulps of
// Σ|a·b| per level of a summation tree — far below bf16's rounding, which the check also
// shows was applied (the unrounded operands' product differs by more than 10× the bound).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "kernels/cpu/gemm_bf16.h"

namespace tinyr2::testing {

// One product's shape: C[M,N] = alpha·op(A)·op(B) + beta·C, every row stride `pad` wider
// than the matrix.
struct Bf16GemmCase {
  bool ta, tb;
  int64_t M, N, K, pad;
  float alpha, beta;
};

// The operands of a case, drawn from N(0, 1) with the given seeds.
struct Bf16GemmOperands {
  int64_t lda, ldb, ldc;
  std::vector<float> A, B, C0;

  Bf16GemmOperands(const Bf16GemmCase& c, uint64_t seed_a, uint64_t seed_b, uint64_t seed_c)
      : lda((c.ta ? c.M : c.K) + c.pad),
        ldb((c.tb ? c.K : c.N) + c.pad),
        ldc(c.N + c.pad),
        A(normals(static_cast<size_t>((c.ta ? c.K : c.M) * lda), seed_a)),
        B(normals(static_cast<size_t>((c.tb ? c.N : c.K) * ldb), seed_b)),
        C0(normals(static_cast<size_t>(c.M * ldc), seed_c)) {}

  static std::vector<float> normals(size_t n, uint64_t seed) {
    Rng rng(seed);
    std::vector<float> v(n);
    rng.normal(v.data(), static_cast<int64_t>(n));
    return v;
  }
};

// Asserts C (ldc = ops.ldc) against the float64 reference, its padding columns untouched;
// with `expect_rounding` also that bf16 rounding of the operands shows in the result.
inline void expect_matches_bf16_reference(const Bf16GemmCase& c, const Bf16GemmOperands& ops,
                                          const std::vector<float>& C, bool expect_rounding) {
  using kernels::cpu::round_bf16;
  const int64_t lda = ops.lda, ldb = ops.ldb, ldc = ops.ldc;
  auto a = [&](int64_t i, int64_t k) { return c.ta ? ops.A[k * lda + i] : ops.A[i * lda + k]; };
  auto b = [&](int64_t k, int64_t j) { return c.tb ? ops.B[j * ldb + k] : ops.B[k * ldb + j]; };
  bool rounding_shows = false;
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0, s_abs = 0, s_unrounded = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double p = static_cast<double>(round_bf16(a(i, k))) * round_bf16(b(k, j));
        s += p;
        s_abs += std::fabs(p);
        s_unrounded += static_cast<double>(a(i, k)) * b(k, j);
      }
      const double c0 = ops.C0[i * ldc + j];
      const double ref = c.alpha * s + (c.beta == 0.f ? 0.0 : c.beta * c0);
      const double tol = 4e-7 * (std::fabs(c.alpha) * s_abs * (1 + std::log2(c.K + 1.0)) +
                                 std::fabs(c.beta * c0)) +
                         1e-30;
      ASSERT_NEAR(C[i * ldc + j], ref, tol) << "at " << i << "," << j;
      rounding_shows = rounding_shows || std::fabs(c.alpha * (s_unrounded - s)) > 10 * tol;
    }
  if (expect_rounding) {
    EXPECT_TRUE(rounding_shows) << "the operands were not rounded to bf16";
  }
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], ops.C0[i * ldc + j]);
}

}  // namespace tinyr2::testing
