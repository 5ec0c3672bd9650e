#include "kernels/cpu/quant_dot.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/quant_dot_act.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int kRowTile = 4;  // rows of W per register tile (NT)

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
#define TINYR2_AVX512VNNI_TARGET \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define TINYR2_AVXVNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))

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

// Block dot products. Every path gives the same 8 int32 lanes, lane k = Σ_{j=4k}^{4k+3} w_j·a_j
// (exact), so the float32 results below are the same bits on every vector path. Each ISA is a
// struct: prep_w (once per weight block), prep_a (once per activation block) and dot.
//
// AVX2: vpmaddubsw needs an unsigned operand: |w| times a with w's sign (|w|·|a| ≤ 127² keeps
// the int16 pair sums below 2¹⁵), then vpmaddwd by 1 adds the pairs.
struct Avx2Ops {
  struct W {
    __m256i abs, sgn;
  };
  TINYR2_AVX2_TARGET static inline void prep_w(__m256i w, W& out) {
    out.abs = _mm256_sign_epi8(w, w);
    out.sgn = w;
  }
  TINYR2_AVX2_TARGET static inline __m256i prep_a(__m256i a) { return a; }
  TINYR2_AVX2_TARGET static inline __m256i dot(const W& w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(a, w.sgn)),
                             _mm256_set1_epi16(1));
  }
};

// VNNI (one struct for both encodings, over the vpdpbusd intrinsic): a + 128 is unsigned
// (a ^ 0x80, once per activation block), and Σ (a_j + 128)·w_j − 128·Σ w_j = Σ a_j·w_j with the
// correction −128·Σ w_j (per lane, once per weight block) as the accumulator's start: one
// vpdpbusd per block pair.
#define TINYR2_VNNI_OPS(NAME, TARGET, DPBUSD)                                                   \
  struct NAME {                                                                                 \
    struct W {                                                                                  \
      __m256i w, start;                                                                         \
    };                                                                                          \
    TARGET static inline void prep_w(__m256i w, W& out) {                                       \
      out.w = w;                                                                                \
      out.start = _mm256_sub_epi32(                                                             \
          _mm256_setzero_si256(),                                                               \
          DPBUSD(_mm256_setzero_si256(), _mm256_set1_epi8(static_cast<char>(0x80)), w));        \
    }                                                                                           \
    TARGET static inline __m256i prep_a(__m256i a) {                                            \
      return _mm256_xor_si256(a, _mm256_set1_epi8(static_cast<char>(0x80)));                    \
    }                                                                                           \
    TARGET static inline __m256i dot(const W& w, __m256i a) { return DPBUSD(w.start, a, w.w); } \
  };
TINYR2_VNNI_OPS(Avx512VnniOps, TINYR2_AVX512VNNI_TARGET, _mm256_dpbusd_epi32)
TINYR2_VNNI_OPS(AvxVnniOps, TINYR2_AVXVNNI_TARGET, _mm256_dpbusd_avx_epi32)
#undef TINYR2_VNNI_OPS

// The register tile: MT activation rows × NT weight rows, all blocks in order. Each weight
// block is loaded (and Q4_0 unpacked) once per tile and used for MT rows of x; each output
// gets acc += (d_w·d_x) · float(lanes) block by block, then one horizontal sum — the same
// operations in the same order for every MT and NT, so tiling never changes a result.
// The body is shared by every vector ISA (OPS: the struct above), compiled once per target.
#define TINYR2_TILE_BODY(OPS)                                                                  \
  __m256 acc[MT][NT];                                                                          \
  for (int m = 0; m < MT; ++m)                                                                 \
    for (int i = 0; i < NT; ++i) acc[m][i] = _mm256_setzero_ps();                              \
  for (int64_t b = 0; b < nb; ++b) {                                                           \
    typename OPS::W pw[NT];                                                                    \
    float dw[NT];                                                                              \
    for (int i = 0; i < NT; ++i) {                                                             \
      OPS::prep_w(load_weights<T>(w + i * row_bytes, b), pw[i]);                               \
      dw[i] = weight_scale<T>(w + i * row_bytes, b);                                           \
    }                                                                                          \
    for (int m = 0; m < MT; ++m) {                                                             \
      const __m256i av =                                                                       \
          OPS::prep_a(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[m * nb + b].qs))); \
      const float d_a = da[m * nb + b];                                                        \
      for (int i = 0; i < NT; ++i) {                                                           \
        const __m256 d = _mm256_set1_ps(dw[i] * d_a);                                          \
        acc[m][i] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(OPS::dot(pw[i], av)), acc[m][i]);    \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  for (int m = 0; m < MT; ++m)                                                                 \
    for (int i = 0; i < NT; ++i) y[m * ldy + i] = hsum(acc[m][i]);

// w: NT rows (row_bytes apart); a, da: MT rows of nb blocks; y: MT rows (ldy apart), NT columns.
using TileFn = void (*)(const uint8_t* w, int64_t row_bytes, const BlockQ8_0* a, const float* da,
                        int64_t nb, float* y, int64_t ldy);

#define TINYR2_TILE_FN(NAME, TARGET, OPS)                                                    \
  template <QuantType T, int MT, int NT>                                                     \
  TARGET void NAME(const uint8_t* w, int64_t row_bytes, const BlockQ8_0* a, const float* da, \
                   int64_t nb, float* y, int64_t ldy) {                                      \
    TINYR2_TILE_BODY(OPS)                                                                    \
  }
TINYR2_TILE_FN(tile_avx2, TINYR2_AVX2_TARGET, Avx2Ops)
TINYR2_TILE_FN(tile_avx512vnni, TINYR2_AVX512VNNI_TARGET, Avx512VnniOps)
TINYR2_TILE_FN(tile_avxvnni, TINYR2_AVXVNNI_TARGET, AvxVnniOps)
#undef TINYR2_TILE_FN
#undef TINYR2_TILE_BODY

// A path's tiles: one activation row (one[nt−1]) and mt rows (many[nt−1]), nt = 1 … 4 weight
// rows. mt fits the accumulators in the register file: 4 × 4 tiles with 32 vector registers
// (an AVX-512 build: -march=native gives every function here ymm0–31), 2 × 4 with 16.
#ifdef __AVX512F__
constexpr int kMtVex = 4;
#else
constexpr int kMtVex = 2;
#endif

struct Tiles {
  int mt = 1;
  TileFn one[kRowTile] = {}, many[kRowTile] = {};
};

#define TINYR2_TILES(FN, MT)                                        \
  Tiles {                                                           \
    MT, {&FN<T, 1, 1>, &FN<T, 1, 2>, &FN<T, 1, 3>, &FN<T, 1, 4>}, { \
      &FN<T, MT, 1>, &FN<T, MT, 2>, &FN<T, MT, 3>, &FN<T, MT, 4>    \
    }                                                               \
  }

template <QuantType T>
Tiles tiles_for(QuantPath path) {
  switch (path) {
    case QuantPath::Avx512Vnni:
      return TINYR2_TILES(tile_avx512vnni, 4);
    case QuantPath::AvxVnni:
      return TINYR2_TILES(tile_avxvnni, kMtVex);
    case QuantPath::Avx2:
      return TINYR2_TILES(tile_avx2, kMtVex);
    case QuantPath::Scalar:
      break;
  }
  return Tiles{};
}
#undef TINYR2_TILES

template <QuantType T>
void run(const uint8_t* w, int64_t rows, int64_t cols, const std::vector<BlockQ8_0>& xq,
         const std::vector<float>& dx, int64_t M, float* y, int64_t ldy, QuantPath path,
         bool parallel) {
  const int64_t nb = cols / kQuantBlock, row_bytes = quant_row_bytes(T, cols);
  const int64_t tiles = (rows + kRowTile - 1) / kRowTile;
  const Tiles k = tiles_for<T>(path);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t r0 = t * kRowTile;
    const int n = static_cast<int>(std::min<int64_t>(kRowTile, rows - r0));
    const uint8_t* wt = w + r0 * row_bytes;
    if (path == QuantPath::Scalar) {
      for (int64_t m = 0; m < M; ++m)
        for (int i = 0; i < n; ++i)
          y[m * ldy + r0 + i] =
              dot_scalar(T, wt + i * row_bytes, xq.data() + m * nb, dx.data() + m * nb, nb);
      continue;
    }
    // Rows of x in tiles of k.mt (each weight block read once per tile), the rest one by one.
    int64_t m = 0;
    for (; k.mt > 1 && m + k.mt <= M; m += k.mt)
      k.many[n - 1](wt, row_bytes, xq.data() + m * nb, dx.data() + m * nb, nb, y + m * ldy + r0,
                    ldy);
    for (; m < M; ++m)
      k.one[n - 1](wt, row_bytes, xq.data() + m * nb, dx.data() + m * nb, nb, y + m * ldy + r0,
                   ldy);
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
  // A parallel region costs more than a small product (and much more on a loaded machine,
  // where a thread may wait a time slice at the barrier): only the large ones split.
  const bool parallel = rows * M * cols >= (int64_t{1} << 21);
  // The activations, Q8_0 row by row (ggml's rule), and their scales widened once; rows are
  // independent, so threads may split them (prefill: M rows) without changing a byte.
  std::vector<BlockQ8_0> xq(static_cast<size_t>(M * nb));
  std::vector<float> dx(static_cast<size_t>(M * nb));
#pragma omp parallel for schedule(static) if (parallel && M > 1)
  for (int64_t m = 0; m < M; ++m) {
    quantize_activations_q8_0(x + m * cols, xq.data() + m * nb, cols, path);
    for (int64_t b = m * nb; b < (m + 1) * nb; ++b)
      dx[static_cast<size_t>(b)] = fp16_to_fp32(xq[static_cast<size_t>(b)].d);
  }
  if (type == QuantType::Q8_0)
    run<QuantType::Q8_0>(w, rows, cols, xq, dx, M, y, ldy, path, parallel);
  else
    run<QuantType::Q4_0>(w, rows, cols, xq, dx, M, y, ldy, path, parallel);
}

}  // namespace tinyr2::kernels::cpu
