// The native bf16 products (cpu/gemm_bf16.h, SPEC §13) on oneDNN's matmul primitive
// (Debian libdnnl 2.6, its OpenMP build: it runs on our thread pool): bf16 source and weights,
// fp32 destination, fp32 accumulation (brgemm kernels with vdpbf16ps on AVX512_BF16).
//
// Both operands are rounded by us first (to_bf16_rows: vcvtneps2bf16, round to nearest even,
// fp32 denormals flushed to zero — the same bits as the native packing of gemm_bf16.cpp), into
// compact bf16 copies of their storage; transposes are the memory descriptors' strides, alpha an
// output scale, beta a sum post-op. oneDNN keeps the primitives in its own cache
// (DNNL_PRIMITIVE_CACHE_CAPACITY); the descriptor is made per call (~2 µs, next to products of
// milliseconds). The result is deterministic for a given thread count (oneDNN splits the work by
// the thread count, so the fp32 summation order may differ between thread counts).
//
// gemm_bf16 (native) sends a product here or to its own 12×32 micro-kernel by the fixed shape
// rule gemm_bf16_uses_onednn(): never by timing at run time.
#pragma once

#include <cstdint>
#include <vector>

namespace tinyr2::kernels::cpu {

// true when the native path sends the product op(A)[M,K]·op(B)[K,N] to oneDNN: neither operand
// transposed (NN: the dX = dY·W products of linear layers) and M·N·K ≥ 2^26. The NT products
// (a linear layer's forward) and TN products (its dW = dYᵀ·X), and small ones, stay on the
// own kernel. Measured on AMD Zen 4 (bench/bench_gemm_bf16.cpp, min of 6 interleaved rounds on
// a shared machine): NN 2048×256×1024 oneDNN 1.25× faster on 1 thread, 1.08× on 2; NN
// 2048×256×768 1.11× / 1.22×; TN 1024×256×2048 1.07× / 0.79×; NT 2048×1024×256 0.93× on 1.
bool gemm_bf16_uses_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K);

// out[r · cols + c] = to_bf16(X[r · ld + c]) for r < rows, c < cols (AVX512_BF16 only).
void to_bf16_rows(const float* X, int64_t rows, int64_t cols, int64_t ld, uint16_t* out);
// out[i] = to_bf16(f · x[i]) for i < n, the same rounding, one row on the calling thread.
void to_bf16_scaled_row(const float* x, float f, int64_t n, uint16_t* out);

// C = alpha · op(A)·op(B) + beta · C with A and B already bf16 (storage row-major at lda, ldb:
// (M, K) or, when trans_a, (K, M); (K, N) or, when trans_b, (N, K)). beta = 0 never reads C.
// False when oneDNN refused the product (C untouched); M, N, K > 0.
bool matmul_bf16_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta,
                        float* C, int64_t ldc);

// The same with fp32 operands, rounded into `workspace` (resized as needed; a caller may
// reuse it across calls). False when oneDNN refused the product (C untouched).
bool gemm_bf16_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc, std::vector<uint16_t>& workspace);

}  // namespace tinyr2::kernels::cpu
