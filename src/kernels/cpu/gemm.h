// Matrix products on the CPU, through OpenBLAS or oneDNN sgemm (row-major), the path picked
// per product by the fixed rule of kernels/cpu/gemm_paths.h (shape class, ISA level).
//
//   C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C
//
// with op(X) = X or Xᵀ. lda/ldb/ldc are the row strides of the matrices as stored.
// Batched: `batch` independent products at element strides stride_a/stride_b/stride_c
// (stride 0 broadcasts one operand over the batch).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// gemm()'s two ways of computing a product with K > 0 (gemm() picks one by gemm_transposed_for,
// kernels/cpu/gemm_paths.h; exposed for tests and benchmarks): direct, on the path of the rule
// for its shape; transposed, as Cᵀ = alpha·op(B)ᵀ·op(A)ᵀ on the rule's path for the shape
// (N, M, K) into a scratch, then transposed into C with beta·C added (C not read if beta = 0).
using GemmFn = void(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                    int64_t ldc);  // gemm()'s arguments
GemmFn gemm_direct, gemm_transposed;

void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c);

// Symmetric rank-K update through OpenBLAS ssyrk: about half the FLOPs of the gemm that
// would compute the same matrix.
//
//   C[N,N] = alpha * op(A)[N,K] · op(A)ᵀ + beta * C,   op(A) = A (trans_a false) or Aᵀ
//
// C must be symmetric on entry when beta ≠ 0. ssyrk updates the upper triangle; the lower
// one is then mirrored from it, so C is whole and exactly symmetric on return.
void syrk(bool trans_a, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, float beta,
          float* C, int64_t ldc);

}  // namespace tinyr2::kernels::cpu
