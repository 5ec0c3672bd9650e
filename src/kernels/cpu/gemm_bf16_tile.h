// The one AVX512_BF16 micro-kernel of the bf16 products (SPEC §13): a kBf16Mr × kBf16Nr
// (12 × 32) tile of fp32 accumulators fed by vdpbf16ps over bf16 pair words. Shared by
// cpu/gemm_bf16.cpp (the general product) and cpu/newton_schulz_bf16.cpp (Muon's
// orthogonalisation), which add their own epilogues. Internal to kernels/cpu.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/gemm_bf16.h"

// The ISA of the native bf16 path (a function with it may only run on a CPU that has it).
#ifndef TINYR2_BF16_TARGET
#define TINYR2_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif
#define TINYR2_BF16_TILE_INLINE TINYR2_BF16_TARGET __attribute__((always_inline))

namespace tinyr2::kernels::cpu {

// acc[i][h] (lanes j = 16h .. 16h + 15) += Σ_p a[p · kBf16Mr + i] ⊗ b[p · kBf16Nr + j], p
// ascending: a holds kBf16Mr pair words per pair index p, b kBf16Nr. A pair word is the bf16
// values (x[2p], x[2p + 1]) in its low and high halves; vdpbf16ps adds, per lane, the product
// of the high halves and then that of the low halves to the accumulator, each add rounded to
// nearest even (Intel SDM). Inlined into its callers, so that acc stays in registers.
TINYR2_BF16_TILE_INLINE inline void bf16_tile_accumulate(const uint32_t* a, const uint32_t* b,
                                                         int64_t pairs, __m512 (&acc)[kBf16Mr][2]) {
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * kBf16Nr);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * kBf16Nr + 16);
    const uint32_t* ap = a + p * kBf16Mr;
#pragma GCC unroll 12
    for (int64_t i = 0; i < kBf16Mr; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[i]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
  }
}

// acc = 0.
TINYR2_BF16_TILE_INLINE inline void bf16_tile_zero(__m512 (&acc)[kBf16Mr][2]) {
#pragma GCC unroll 12
  for (int64_t i = 0; i < kBf16Mr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
}

}  // namespace tinyr2::kernels::cpu
