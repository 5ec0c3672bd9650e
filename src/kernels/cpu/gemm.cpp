#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <memory>

#include <cblas.h>

#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/gemv.h"

namespace tinyr2::kernels::cpu {

// The path by the fixed rule of gemm_paths.h (shape class and ISA level, SPEC §16); one row
// times a transposed (out, in) weight is a GEMV: the decode step's products (gemv.h).
void gemm_direct(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  if (M == 1 && !trans_a && trans_b && gemv_supported(gemm_isa_level())) {
    gemv(gemm_isa_level(), N, K, alpha, A, B, ldb, beta, C);
    return;
  }
  if (gemm_path_for(trans_a, trans_b, M, N, K, gemm_isa_level()) == GemmPath::OneDnn &&
      gemm_onednn(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  gemm_openblas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_transposed(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc) {
  if (M == 0 || N == 0) return;
  const auto t = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(N * M));
  gemm_direct(!trans_b, !trans_a, N, M, K, alpha, B, ldb, A, lda, 0.f, t.get(), M);
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.f)  // C is not read: it may hold NaN
      for (int64_t j = 0; j < N; ++j) c[j] = t[j * M + i];
    else
      for (int64_t j = 0; j < N; ++j) c[j] = t[j * M + i] + beta * c[j];
  }
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // sgemm with K = 0 is legal but some BLAS skip the beta scaling
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (gemm_transposed_for(trans_a, trans_b, M, N, K, gemm_isa_level()))
    gemm_transposed(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_direct(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c) {
  // Large products: one threaded sgemm after another. Many small ones: one product per
  // thread (OpenBLAS and oneDNN run single-threaded inside a parallel region).
  const bool small = M * N * K < 64 * 64 * 64 && batch >= omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) if (small)
  for (int64_t b = 0; b < batch; ++b)
    gemm(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
         C + b * stride_c, ldc);
}

void syrk(bool trans_a, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, float beta,
          float* C, int64_t ldc) {
  if (N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_ssyrk(CblasRowMajor, CblasUpper, trans_a ? CblasTrans : CblasNoTrans, static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), beta, C, static_cast<int>(ldc));
  // Mirror the upper triangle into the lower one, a block of rows per thread.
#pragma omp parallel for schedule(static) if (N >= 256)
  for (int64_t i = 1; i < N; ++i)
    for (int64_t j = 0; j < i; ++j) C[i * ldc + j] = C[j * ldc + i];
}

}  // namespace tinyr2::kernels::cpu
