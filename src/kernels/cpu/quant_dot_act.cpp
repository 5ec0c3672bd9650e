#include "kernels/cpu/quant_dot_act.h"

#include <immintrin.h>

#include <cfloat>

namespace tinyr2::kernels::cpu {

namespace {

// Every vector path has AVX2, FMA and F16C (kernels::quant_path_for).
__attribute__((target("avx2,fma,f16c"))) void quantize_avx2(const float* x, BlockQ8_0* y,
                                                            int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.f), big = _mm256_set1_ps(FLT_MAX);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.f);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock) {
    __m256 v[4], amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      const __m256 a = _mm256_andnot_ps(sign, v[k]);
      amax = _mm256_max_ps(amax, a);
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));  // NaN or ±inf
    }
    if (_mm256_movemask_ps(bad) != 0) {
      quantize_row_q8_0(x, y + b, kQuantBlock);
      continue;
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    if (!(id <= FLT_MAX)) {  // d subnormal: 1/d overflows, the reference's casts decide
      quantize_row_q8_0(x, y + b, kQuantBlock);
      continue;
    }
    y[b].d = fp32_to_fp16(d);
    const __m256 idv = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 p = _mm256_mul_ps(v[k], idv);
      const __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(p, t));  // exact, |p| ≤ 127
      const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ),
                                        _mm256_or_ps(one, _mm256_and_ps(sign, p)));  // ±1
      q[k] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
    }
    // int32 → int8 in order: the packs interleave 128-bit lanes; the permute undoes it.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs),
                        _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

}  // namespace

void quantize_activations_q8_0(const float* x, BlockQ8_0* y, int64_t n, QuantPath path) {
  if (path == QuantPath::Scalar)
    quantize_row_q8_0(x, y, n);
  else
    quantize_avx2(x, y, n);
}

}  // namespace tinyr2::kernels::cpu
