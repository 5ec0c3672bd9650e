// kernels::cpu::syrk (the symmetric rank-K update Newton–Schulz uses) against a plain
// double-precision triple loop: both orientations, beta 0 and beta ≠ 0 on a symmetric C,
// row strides wider than the matrix, K = 0, sizes below and above the threaded mirror.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "kernels/cpu/gemm.h"

namespace tinyr2 {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  rng.normal(v.data(), static_cast<int64_t>(n));
  return v;
}

// C = alpha · op(A) op(A)ᵀ + beta · C0 in double; op(A) is N×K.
std::vector<double> reference(bool trans, int64_t N, int64_t K, double alpha,
                              const std::vector<float>& A, int64_t lda, double beta,
                              const std::vector<float>& C0, int64_t ldc) {
  auto a = [&](int64_t i, int64_t k) {
    return static_cast<double>(trans ? A[k * lda + i] : A[i * lda + k]);
  };
  std::vector<double> C(static_cast<size_t>(N * N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += a(i, k) * a(j, k);
      C[i * N + j] = alpha * s + beta * C0[i * ldc + j];
    }
  return C;
}

void check(bool trans, int64_t N, int64_t K, float alpha, float beta, int64_t pad) {
  SCOPED_TRACE(::testing::Message() << "trans " << trans << " N " << N << " K " << K << " alpha "
                                    << alpha << " beta " << beta << " pad " << pad);
  const int64_t lda = (trans ? N : K) + pad, ldc = N + pad;
  const int64_t a_rows = trans ? K : N;
  std::vector<float> A = random_floats(static_cast<size_t>(std::max<int64_t>(a_rows, 1) * lda), 7);
  // A symmetric C on entry (beta ≠ 0 reads only one triangle of it).
  std::vector<float> C = random_floats(static_cast<size_t>(N * ldc), 11);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < i; ++j) C[i * ldc + j] = C[j * ldc + i];
  const std::vector<double> want = reference(trans, N, K, alpha, A, lda, beta, C, ldc);
  const std::vector<float> before = C;
  kernels::cpu::syrk(trans, N, K, alpha, A.data(), lda, beta, C.data(), ldc);
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const double w = want[i * N + j], tol = 1e-5 * (std::abs(w) + std::sqrt(double(K)) + 1);
      ASSERT_NEAR(C[i * ldc + j], w, tol) << "at (" << i << ", " << j << ")";
      ASSERT_EQ(C[i * ldc + j], C[j * ldc + i]) << "not symmetric at (" << i << ", " << j << ")";
    }
    for (int64_t j = N; j < ldc; ++j)  // the padding of each row is left alone
      ASSERT_EQ(C[i * ldc + j], before[i * ldc + j]);
  }
}

TEST(Syrk, EqualsDoubleReferenceBothOrientations) {
  for (bool trans : {false, true})
    for (int64_t pad : {0, 3}) {
      check(trans, 5, 9, 1.f, 0.f, pad);
      check(trans, 33, 17, 0.5f, 1.f, pad);     // beta 1: B' += c A Aᵀ in Newton–Schulz
      check(trans, 300, 64, -2.f, 0.25f, pad);  // N ≥ 256: the mirror runs threaded
    }
}

TEST(Syrk, ZeroDepthOnlyScalesC) {
  check(false, 7, 0, 1.f, 0.5f, 0);
  check(true, 7, 0, 1.f, 0.f, 2);
}

}  // namespace
}  // namespace tinyr2
