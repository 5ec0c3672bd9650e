#include "kernels/cpu/quant_dot.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int kRowTile = 4;  // rows of W that share each activation block load

// ---- scalar ------------------------------------------------------------------------------

float dot_scalar(QuantType type, const uint8_t* wrow, const BlockQ8_0* a, const float* da,
                 int64_t nb) {
  float sum = 0.f;
  if (type == QuantType::Q8_0) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(wrow);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s = 0;
      for (int j = 0; j < 32; ++j) s += static_cast<int32_t>(w[b].qs[j]) * a[b].qs[j];
      sum += fp16_to_fp32(w[b].d) * da[b] * static_cast<float>(s);
    }
  } else {
    const auto* w = reinterpret_cast<const BlockQ4_0*>(wrow);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s = 0;
      for (int j = 0; j < 16; ++j) {
        s += ((w[b].qs[j] & 0x0f) - 8) * a[b].qs[j];
        s += ((w[b].qs[j] >> 4) - 8) * a[b].qs[j + 16];
      }
      sum += fp16_to_fp32(w[b].d) * da[b] * static_cast<float>(s);
    }
  }
  return sum;
}

// ---- x86 vector paths: one 32-element block per 256-bit register -----------------------------

#define TINYR2_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define TINYR2_VNNI_TARGET \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))

// The 32 signed weights of block b (Q4_0 unpacked and shifted to −8 … 7).
template <QuantType T>
TINYR2_AVX2_TARGET inline __m256i load_weights(const uint8_t* wrow, int64_t b) {
  if constexpr (T == QuantType::Q8_0) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(wrow) + b;
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w->qs));
  } else {
    const auto* w = reinterpret_cast<const BlockQ4_0*>(wrow) + b;
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w->qs));
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(packed, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
  }
}

template <QuantType T>
TINYR2_AVX2_TARGET inline float weight_scale(const uint8_t* wrow, int64_t b) {
  const uint16_t d = T == QuantType::Q8_0 ? (reinterpret_cast<const BlockQ8_0*>(wrow) + b)->d
                                          : (reinterpret_cast<const BlockQ4_0*>(wrow) + b)->d;
  return _cvtsh_ss(d);
}

TINYR2_AVX2_TARGET inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Σ_j w_j · a_j of one block, in 8 int32 lanes: |w| (unsigned) times a with w's sign.
TINYR2_AVX2_TARGET inline __m256i block_dot_avx2(__m256i w, __m256i a) {
  const __m256i aw = _mm256_sign_epi8(w, w);
  const __m256i sa = _mm256_sign_epi8(a, w);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sa), _mm256_set1_epi16(1));
}

TINYR2_VNNI_TARGET inline __m256i block_dot_vnni(__m256i w, __m256i a) {
  const __m256i aw = _mm256_sign_epi8(w, w);
  const __m256i sa = _mm256_sign_epi8(a, w);
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sa);
}

// kRowTile rows of W (or fewer: n_rows) against one quantized activation row; the body is
// the same for both paths, compiled once per instruction set.
#define TINYR2_DOT_TILE_BODY(BLOCK_DOT)                                               \
  __m256 acc[kRowTile];                                                               \
  for (int i = 0; i < kRowTile; ++i) acc[i] = _mm256_setzero_ps();                    \
  for (int64_t b = 0; b < nb; ++b) {                                                  \
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs)); \
    for (int i = 0; i < n_rows; ++i) {                                                \
      const uint8_t* wrow = w + i * row_bytes;                                        \
      const __m256i s = BLOCK_DOT(load_weights<T>(wrow, b), av);                      \
      const __m256 d = _mm256_set1_ps(weight_scale<T>(wrow, b) * da[b]);              \
      acc[i] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[i]);                     \
    }                                                                                 \
  }                                                                                   \
  for (int i = 0; i < n_rows; ++i) out[i] = hsum(acc[i]);

template <QuantType T>
TINYR2_AVX2_TARGET void dot_tile_avx2(const uint8_t* w, int64_t row_bytes, int n_rows,
                                      const BlockQ8_0* a, const float* da, int64_t nb, float* out) {
  TINYR2_DOT_TILE_BODY(block_dot_avx2)
}

template <QuantType T>
TINYR2_VNNI_TARGET void dot_tile_vnni(const uint8_t* w, int64_t row_bytes, int n_rows,
                                      const BlockQ8_0* a, const float* da, int64_t nb, float* out) {
  TINYR2_DOT_TILE_BODY(block_dot_vnni)
}
#undef TINYR2_DOT_TILE_BODY

template <QuantType T>
void run(const uint8_t* w, int64_t rows, int64_t cols, const std::vector<BlockQ8_0>& xq,
         const std::vector<float>& dx, int64_t M, float* y, int64_t ldy, QuantPath path) {
  const int64_t nb = cols / kQuantBlock, row_bytes = quant_row_bytes(T, cols);
  const int64_t tiles = (rows + kRowTile - 1) / kRowTile;
  // A parallel region costs more than a small product (and much more on a loaded machine,
  // where a thread may wait a time slice at the barrier): only the large ones split.
  const bool parallel = rows * M * cols >= (int64_t{1} << 21);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t r0 = t * kRowTile;
    const int n = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
    float out[kRowTile];
    for (int64_t m = 0; m < M; ++m) {
      const BlockQ8_0* a = xq.data() + m * nb;
      const float* da = dx.data() + m * nb;
      if (path == QuantPath::Avx512Vnni) {
        dot_tile_vnni<T>(w + r0 * row_bytes, row_bytes, n, a, da, nb, out);
      } else if (path == QuantPath::Avx2) {
        dot_tile_avx2<T>(w + r0 * row_bytes, row_bytes, n, a, da, nb, out);
      } else {
        for (int i = 0; i < n; ++i) out[i] = dot_scalar(T, w + (r0 + i) * row_bytes, a, da, nb);
      }
      for (int i = 0; i < n; ++i) y[m * ldy + r0 + i] = out[i];
    }
  }
}

}  // namespace

void quant_matmul(QuantType type, const uint8_t* w, int64_t rows, int64_t cols, const float* x,
                  int64_t M, float* y, int64_t ldy, QuantPath path) {
  TINYR2_CHECK(type == QuantType::Q8_0 || type == QuantType::Q4_0,
               "quant_matmul: weights of type {} are not Q8_0 or Q4_0",
               quant_type_name(type) ? quant_type_name(type) : "?");
  TINYR2_CHECK(cols % kQuantBlock == 0 && ldy >= rows, "quant_matmul: {} × {} weights, ldy {}",
               rows, cols, ldy);
  const int64_t nb = cols / kQuantBlock;
  // The activations, Q8_0 row by row (ggml's rule), and their scales widened once.
  std::vector<BlockQ8_0> xq(static_cast<size_t>(M * nb));
  std::vector<float> dx(static_cast<size_t>(M * nb));
  for (int64_t m = 0; m < M; ++m) quantize_row_q8_0(x + m * cols, xq.data() + m * nb, cols);
  for (size_t i = 0; i < xq.size(); ++i) dx[i] = fp16_to_fp32(xq[i].d);
  if (type == QuantType::Q8_0)
    run<QuantType::Q8_0>(w, rows, cols, xq, dx, M, y, ldy, path);
  else
    run<QuantType::Q4_0>(w, rows, cols, xq, dx, M, y, ldy, path);
}

}  // namespace tinyr2::kernels::cpu
