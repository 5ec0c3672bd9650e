// Matrix products in bf16 with fp32 accumulation (SPEC §13, train.precision "bf16").
//
//   C[M,N] = alpha · round(op(A))[M,K] · round(op(B))[K,N] + beta · C        (row-major)
//
// round() is fp32 → bf16 round-to-nearest-even (NaN stays NaN; the native path, like
// vcvtneps2bf16, also flushes fp32 denormals to zero); the products of two bf16 values are
// exact in fp32 and are summed in fp32. beta = 0 never reads C.
//
// Two paths compute the same products (they differ only in the order of the fp32 sums):
//   native   — AVX512_BF16, on one of two kernels chosen by a fixed shape rule
//              (gemm_bf16_uses_onednn, cpu/gemm_bf16_onednn.h):
//              own    — both operands are packed once per call into bf16 pair panels
//                       (k, k+1 interleaved) and a 12×32 vdpbf16ps micro-kernel runs over
//                       tiles of C, K in slabs of kKc. Each C element is summed by one thread
//                       in a fixed order, so the result does not depend on the number of
//                       threads;
//              oneDNN — both operands rounded to compact bf16 copies, then oneDNN's bf16
//                       matmul primitive (deterministic for a given thread count).
//   emulated — any CPU: round A and B to bf16 values held in fp32 buffers, then the fp32
//              gemm (cpu/gemm.h).
// The caller chooses the path (`native`), from cpu::cpu_features().avx512_bf16 read once.
#pragma once

#include <cstdint>
#include <vector>

namespace tinyr2::kernels::cpu {

// fp32 → bf16 bits, round to nearest even; NaN → a quiet NaN.
inline uint16_t to_bf16(float x) {
  uint32_t u;
  __builtin_memcpy(&u, &x, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;  // branch-free, so that loops vectorize
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}
inline float from_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  __builtin_memcpy(&x, &u, 4);
  return x;
}
// x rounded to the nearest bf16 value, as an fp32.
inline float round_bf16(float x) {
  return from_bf16(to_bf16(x));
}

// Micro-kernel tile and K slab of the native path.
inline constexpr int64_t kBf16Mr = 12, kBf16Nr = 32, kBf16Kc = 256;

// op(B) (K, N) packed for the native path: panels of kBf16Nr columns (the last padded with
// zeros), K padded to even; within a panel, pair p holds (B[2p, n], B[2p+1, n]) for each n.
struct PackedBf16B {
  int64_t K = 0, N = 0, Kp = 0, panels = 0;
  std::vector<uint16_t> data;  // panels · Kp · kBf16Nr
};
void pack_bf16_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb, PackedBf16B& out);

// The native product with op(B) already packed (reused across calls by the bf16 head).
// op(A) is packed per call, into *workspace when given (a buffer the caller reuses across
// calls, so that large products do not fault in fresh pages every time).
void gemm_bf16_packed(bool trans_a, int64_t M, int64_t K, float alpha, const float* A, int64_t lda,
                      const PackedBf16B& B, float beta, float* C, int64_t ldc,
                      std::vector<uint32_t>* workspace = nullptr);

// C = alpha · op(A)·op(B) + beta · C in bf16 products; `native` picks the AVX512_BF16 path
// (the caller must only pass true on a CPU that has it), else the emulation.
void gemm_bf16(bool native, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
               float* C, int64_t ldc);

void gemm_bf16_batched(bool native, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, const float* A, int64_t lda, int64_t stride_a,
                       const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                       int64_t ldc, int64_t stride_c);

}  // namespace tinyr2::kernels::cpu
