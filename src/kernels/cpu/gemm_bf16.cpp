#include "kernels/cpu/gemm_bf16.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <memory>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16_onednn.h"
#include "kernels/cpu/gemm_bf16_tile.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kMr = kBf16Mr, kNr = kBf16Nr, kKcPairs = kBf16Kc / 2;
constexpr int64_t kParallelPack = 1 << 14;  // elements below which packing is serial

// op(A) (M, K) packed in blocks of kMr rows (the last padded with zeros): within a block,
// pair p of row i is the 32-bit word (A[i, 2p], A[i, 2p+1]) at [p · kMr + i].
struct PackedA {
  int64_t M = 0, pairs = 0, blocks = 0;
  uint32_t* data = nullptr;  // in the caller's buffer
};

uint32_t pair_word(float lo, float hi) {
  return static_cast<uint32_t>(to_bf16(lo)) | (static_cast<uint32_t>(to_bf16(hi)) << 16);
}

// dst[i] = (bf16(r0[i]), bf16(r1[i])) for i < n; r1 null reads as zeros.
TINYR2_BF16_TARGET void interleave_words(const float* r0, const float* r1, uint32_t* dst,
                                         int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m256i lo = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r0 + i));
    const __m256i hi =
        r1 ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r1 + i)) : _mm256_setzero_si256();
    const __m512i w = _mm512_or_si512(
        _mm512_maskz_cvtepu16_epi32(0xffff, lo),
        _mm512_maskz_slli_epi32(0xffff, _mm512_maskz_cvtepu16_epi32(0xffff, hi), 16));
    _mm512_mask_storeu_epi32(dst + i, m, w);
  }
}

// dst[p · stride] = (bf16(x[2p]), bf16(x[2p+1])) for the (K+1)/2 pairs of x (K elements).
TINYR2_BF16_TARGET void pair_words(const float* x, int64_t K, uint32_t* dst, int64_t stride) {
  alignas(64) uint32_t tmp[16];
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_store_si512(tmp, (__m512i)v);
    uint32_t* d = dst + (k / 2) * stride;
    for (int64_t q = 0; q < 16; ++q) d[q * stride] = tmp[q];
  }
  for (; k + 1 < K; k += 2) dst[(k / 2) * stride] = pair_word(x[k], x[k + 1]);
  if (k < K) dst[(k / 2) * stride] = pair_word(x[k], 0.f);
}

void pack_a(bool trans_a, int64_t M, int64_t K, const float* A, int64_t lda,
            std::vector<uint32_t>& buffer, PackedA& out) {
  out.M = M;
  out.pairs = (K + 1) / 2;
  out.blocks = (M + kMr - 1) / kMr;
  const int64_t block_words = out.pairs * kMr;
  if (buffer.size() < static_cast<size_t>(out.blocks * block_words))
    buffer.resize(static_cast<size_t>(out.blocks * block_words));
  out.data = buffer.data();
  uint32_t* data = out.data;
#pragma omp parallel for schedule(static) if (M * K > kParallelPack)
  for (int64_t b = 0; b < out.blocks; ++b) {
    uint32_t* blk = data + b * block_words;
    const int64_t i0 = b * kMr, mr = std::min(kMr, M - i0);
    if (mr < kMr) std::fill(blk, blk + block_words, 0u);
    if (!trans_a) {  // A stored (M, K): a row's pairs are adjacent
      for (int64_t i = 0; i < mr; ++i) pair_words(A + (i0 + i) * lda, K, blk + i, kMr);
    } else {  // A stored (K, M): rows 2p and 2p+1 of the storage interleaved
      for (int64_t p = 0; p < out.pairs; ++p) {
        const float* r0 = A + 2 * p * lda + i0;
        interleave_words(r0, 2 * p + 1 < K ? r0 + lda : nullptr, blk + p * kMr, mr);
      }
    }
  }
}

// C tile (mr ≤ kMr rows, nr ≤ kNr columns) = alpha · Σ_p a_p ⊗ b_p + beta · C (C read only
// when read_c). a: `pairs` groups of kMr pair words; b: `pairs` groups of kNr pair words
// (as 2 · kNr halves); the sums are bf16_tile_accumulate's (gemm_bf16_tile.h).
TINYR2_BF16_TARGET void micro_kernel(const uint32_t* a, const uint16_t* b, int64_t pairs, float* C,
                                     int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta,
                                     bool read_c) {
  __m512 acc[kMr][2];
  bf16_tile_zero(acc);
  bf16_tile_accumulate(a, reinterpret_cast<const uint32_t*>(b), pairs, acc);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32   ? __mmask16(0xffff)
                       : nr <= 16 ? 0
                                  : __mmask16((1u << (nr - 16)) - 1);
#pragma GCC unroll 12
  for (int64_t i = 0; i < kMr; ++i) {
    if (i >= mr) break;
    float* c = C + i * ldc;
    __m512 v0 = _mm512_mul_ps(va, acc[i][0]), v1 = _mm512_mul_ps(va, acc[i][1]);
    if (read_c) {
      v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), v0);
      v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

// Copies of op(X)'s storage (rows × cols at stride ld) rounded to bf16 values, compact.
std::unique_ptr<float[]> rounded_copy(const float* X, int64_t rows, int64_t cols, int64_t ld) {
  std::unique_ptr<float[]> out(new float[static_cast<size_t>(rows * cols)]);
  float* o = out.get();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelPack)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] = round_bf16(X[r * ld + c]);
  return out;
}

}  // namespace

void pack_bf16_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb,
                 PackedBf16B& out) {
  out.K = K;
  out.N = N;
  out.Kp = (K + 1) / 2 * 2;
  out.panels = (N + kNr - 1) / kNr;
  const int64_t panel = out.Kp * kNr;
  out.data.resize(static_cast<size_t>(out.panels * panel));
  uint16_t* data = out.data.data();
  const int64_t pairs = out.Kp / 2;
#pragma omp parallel for schedule(static) if (K * N > kParallelPack)
  for (int64_t j = 0; j < out.panels; ++j) {
    // The panel as pair words: word [p · kNr + n] = (op(B)[2p, n], op(B)[2p+1, n]).
    uint32_t* pan = reinterpret_cast<uint32_t*>(data + j * panel);
    const int64_t n0 = j * kNr, nr = std::min(kNr, N - n0);
    if (nr < kNr) std::fill(pan, pan + pairs * kNr, 0u);
    if (trans_b) {  // B stored (N, K): op(B)[k, n] = B[n, k], k contiguous
      for (int64_t n = 0; n < nr; ++n) pair_words(B + (n0 + n) * ldb, K, pan + n, kNr);
    } else {  // B stored (K, N): rows 2p and 2p+1 interleaved
      for (int64_t p = 0; p < pairs; ++p) {
        const float* r0 = B + 2 * p * ldb + n0;
        interleave_words(r0, 2 * p + 1 < K ? r0 + ldb : nullptr, pan + p * kNr, nr);
      }
    }
  }
}

void gemm_bf16_packed(bool trans_a, int64_t M, int64_t K, float alpha, const float* A, int64_t lda,
                      const PackedBf16B& B, float beta, float* C, int64_t ldc,
                      std::vector<uint32_t>* workspace) {
  const int64_t N = B.N;
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  std::vector<uint32_t> local;
  PackedA pa;
  pack_a(trans_a, M, K, A, lda, workspace ? *workspace : local, pa);
  const int64_t pairs = pa.pairs, blocks = pa.blocks, panels = B.panels;
  const int64_t tiles = blocks * panels;
  // Walk the tiles so that the operand with more blocks moves fastest within a thread's
  // range: the other one's slab stays in cache.
  const bool panels_outer = panels >= blocks;
  const uint32_t* adata = pa.data;
  const uint16_t* bdata = B.data.data();
  const int64_t a_block = pairs * kMr, b_panel = B.Kp * kNr;
  // Each thread owns a contiguous range of tiles and runs every K slab over it: no barrier
  // between slabs, and each C element is summed by one thread in slab order.
#pragma omp parallel if (tiles > 1 && M * N * K > (1 << 18))
  {
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t t0 = tiles * me / threads, t1 = tiles * (me + 1) / threads;
    for (int64_t p0 = 0; p0 < pairs; p0 += kKcPairs) {
      const int64_t np = std::min(kKcPairs, pairs - p0);
      const bool first = p0 == 0;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t bi = panels_outer ? t % blocks : t / panels;
        const int64_t pj = panels_outer ? t / blocks : t % panels;
        const int64_t i0 = bi * kMr, j0 = pj * kNr;
        micro_kernel(adata + bi * a_block + p0 * kMr, bdata + pj * b_panel + p0 * 2 * kNr, np,
                     C + i0 * ldc + j0, ldc, std::min(kMr, M - i0), std::min(kNr, N - j0), alpha,
                     first ? beta : 1.f, !first || beta != 0.f);
      }
    }
  }
}

void gemm_bf16(bool native, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
               float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (!native) {
    const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    const auto ar = rounded_copy(A, a_rows, a_cols, lda);
    const auto br = rounded_copy(B, b_rows, b_cols, ldb);
    gemm(trans_a, trans_b, M, N, K, alpha, ar.get(), a_cols, br.get(), b_cols, beta, C, ldc);
    return;
  }
  if (K > 0 && gemm_bf16_uses_onednn(trans_a, trans_b, M, N,
                                     K)) {  // a fixed shape rule (gemm_bf16_onednn.h)
    std::vector<uint16_t> workspace;
    if (gemm_bf16_onednn(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, workspace))
      return;
  }
  PackedBf16B pb;
  pack_bf16_b(trans_b, K, N, B, ldb, pb);
  gemm_bf16_packed(trans_a, M, K, alpha, A, lda, pb, beta, C, ldc);
}

void gemm_bf16_batched(bool native, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, const float* A, int64_t lda, int64_t stride_a,
                       const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                       int64_t ldc, int64_t stride_c) {
  for (int64_t b = 0; b < batch; ++b)
    gemm_bf16(native, trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b,
              ldb, beta, C + b * stride_c, ldc);
}

}  // namespace tinyr2::kernels::cpu
