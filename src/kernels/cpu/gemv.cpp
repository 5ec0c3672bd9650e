#include "kernels/cpu/gemv.h"

#include <immintrin.h>
#include <omp.h>

namespace tinyr2::kernels::cpu {

namespace {

// Products of at least this many weights are split over the threads: below it (a 64×256
// map, 64 KB) one OpenMP fork-join costs about what the second thread saves.
constexpr int64_t kParallelWeights = int64_t{1} << 20;

#define TINYR2_GEMV_AVX512 __attribute__((target("avx2,fma,avx512f")))
#define TINYR2_GEMV_AVX2 __attribute__((target("avx2,fma")))

// The sum of the 8 lanes in a fixed order: 128-bit halves, then pairs.
TINYR2_GEMV_AVX2 inline float hsum(__m256 v) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

// The sum of the 16 lanes in a fixed order: 256-bit halves, then the 8-lane sum above.
// (The masked extract with a zero source: the unmasked intrinsics and _mm512_reduce_add_ps
// take an undefined operand that trips g++ 12's -Wmaybe-uninitialized.)
TINYR2_GEMV_AVX512 inline float hsum(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  const __m256d z = _mm256_setzero_pd();
  return hsum(_mm256_add_ps(_mm256_castpd_ps(_mm512_mask_extractf64x4_pd(z, 0xFF, d, 0)),
                            _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(z, 0xFF, d, 1))));
}

// Σ_k w[k]·x[k] in a fixed order: four 16-wide accumulators over steps of 64, then steps of
// 16 into the first, a masked tail into the second, summed (a0+a1)+(a2+a3), then reduced.
TINYR2_GEMV_AVX512 inline float dot_avx512(const float* w, const float* x, int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
  }
  for (; k + 16 <= K; k += 16)
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + k), _mm512_maskz_loadu_ps(m, x + k), a1);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// dot_avx512 at half the width: four 8-wide accumulators over steps of 32, then steps of 8
// into the first, a masked tail into the second, summed (a0+a1)+(a2+a3), then reduced.
TINYR2_GEMV_AVX2 inline float dot_avx2(const float* w, const float* x, int64_t K) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(x + k + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 16), _mm256_loadu_ps(x + k + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 24), _mm256_loadu_ps(x + k + 24), a3);
  }
  for (; k + 8 <= K; k += 8)
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), a0);
  if (k < K) {  // lanes j < K − k: all bits set where j < K − k
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(K - k)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w + k, m), _mm256_maskload_ps(x + k, m), a1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

inline float finish(float dot, float alpha, float beta, const float* y) {
  return beta == 0.f ? alpha * dot : alpha * dot + beta * *y;
}

TINYR2_GEMV_AVX512 void rows_avx512(int64_t n0, int64_t n1, int64_t K, float alpha, const float* x,
                                    const float* W, int64_t ldw, float beta, float* y) {
  for (int64_t n = n0; n < n1; ++n)
    y[n] = finish(dot_avx512(W + n * ldw, x, K), alpha, beta, y + n);
}

TINYR2_GEMV_AVX2 void rows_avx2(int64_t n0, int64_t n1, int64_t K, float alpha, const float* x,
                                const float* W, int64_t ldw, float beta, float* y) {
  for (int64_t n = n0; n < n1; ++n) y[n] = finish(dot_avx2(W + n * ldw, x, K), alpha, beta, y + n);
}

}  // namespace

bool gemv_supported(tinyr2::cpu::IsaLevel level) {
  return level >= tinyr2::cpu::IsaLevel::Avx2;
}

void gemv(tinyr2::cpu::IsaLevel level, int64_t N, int64_t K, float alpha, const float* x,
          const float* W, int64_t ldw, float beta, float* y) {
  const bool avx512 = level >= tinyr2::cpu::IsaLevel::Avx512;
  // Contiguous row ranges, one per thread: each thread reads its part of W front to back.
#pragma omp parallel if (N * K >= kParallelWeights)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t n0 = N * t / nt, n1 = N * (t + 1) / nt;
    if (avx512)
      rows_avx512(n0, n1, K, alpha, x, W, ldw, beta, y);
    else
      rows_avx2(n0, n1, K, alpha, x, W, ldw, beta, y);
  }
}

}  // namespace tinyr2::kernels::cpu
