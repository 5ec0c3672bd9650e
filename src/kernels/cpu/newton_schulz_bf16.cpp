#include "kernels/cpu/newton_schulz_bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_bf16_tile.h"
#include "kernels/cpu/newton_schulz.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kMr = kBf16Mr,
                  kNr = kBf16Nr;            // a tile: kMr rows of the left operand × kNr columns
constexpr int64_t kParallelWork = 1 << 15;  // elementwise loops and packing below this: serial
constexpr int64_t kParallelMacs = 1 << 18;  // products below this many multiply-adds: serial

// bf16 bits of x, an fp32 denormal first flushed to ±0 (as vcvtneps2bf16 does).
inline uint32_t bf16_daz(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u & 0x7f800000u) == 0 ? (u & 0x80000000u) : u;
  float y;
  std::memcpy(&y, &u, 4);
  return to_bf16(y);
}
inline uint32_t pair_word(float lo, float hi) {
  return bf16_daz(lo) | (bf16_daz(hi) << 16);
}
inline float high_half(uint32_t w) {  // the odd (k + 1) element of a pair word, as fp32
  return from_bf16(static_cast<uint16_t>(w >> 16));
}
inline float low_half(uint32_t w) {  // the even (k) element
  return from_bf16(static_cast<uint16_t>(w & 0xffffu));
}

// `tile` rows of S (each K long, row stride ld) as pair words: dst[p · tile + i] =
// (S[i, 2p], S[i, 2p+1]); rows at or past `valid`, and the missing half of an odd K, are zero.
// In chunks of kChunkPairs pairs: the rows' words first (contiguous, vectorised), then
// transposed into dst.
void pack_rows(const float* S, int64_t ld, int64_t K, int64_t valid, int64_t tile, uint32_t* dst) {
  constexpr int64_t kChunkPairs = 64;
  const int64_t pairs = (K + 1) / 2;
  uint32_t words[kNr][kChunkPairs];  // tile ≤ kNr
  for (int64_t p0 = 0; p0 < pairs; p0 += kChunkPairs) {
    const int64_t np = std::min(kChunkPairs, pairs - p0);
    const bool odd_end = p0 + np == pairs && K % 2 == 1;  // the last pair has no high half
    const int64_t full = odd_end ? np - 1 : np;
    for (int64_t i = 0; i < tile; ++i) {
      uint32_t* w = words[i];
      if (i >= valid) {
        std::fill(w, w + np, 0u);
        continue;
      }
      const float* s = S + i * ld + 2 * p0;
      for (int64_t p = 0; p < full; ++p) w[p] = pair_word(s[2 * p], s[2 * p + 1]);
      if (odd_end) w[full] = pair_word(s[2 * full], 0.f);
    }
    for (int64_t p = 0; p < np; ++p)
      for (int64_t i = 0; i < tile; ++i) dst[(p0 + p) * tile + i] = words[i][p];
  }
}

// kNr columns of S (K rows, row stride ld) as pair words: dst[p · kNr + j] =
// (S[2p, j], S[2p+1, j]); columns at or past `valid`, and the missing row of an odd K, zero.
void pack_cols(const float* S, int64_t ld, int64_t K, int64_t valid, uint32_t* dst) {
  const int64_t pairs = (K + 1) / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    const float* r0 = S + 2 * p * ld;
    const float* r1 = 2 * p + 1 < K ? r0 + ld : nullptr;
    uint32_t* d = dst + p * kNr;
    for (int64_t j = 0; j < valid; ++j) d[j] = pair_word(r0[j], r1 ? r1[j] : 0.f);
    for (int64_t j = valid; j < kNr; ++j) d[j] = 0;
  }
}

// acc[kMr · kNr] = Σ_p a_p ⊗ b_p over `pairs` pair words (a: kMr per pair, b: kNr per pair):
// the micro-kernel of gemm_bf16 (gemm_bf16_tile.h).
TINYR2_BF16_TARGET void tile_native(const uint32_t* a, const uint32_t* b, int64_t pairs,
                                    float* acc_out) {
  __m512 acc[kMr][2];
  bf16_tile_zero(acc);
  bf16_tile_accumulate(a, b, pairs, acc);
#pragma GCC unroll 12
  for (int64_t i = 0; i < kMr; ++i) {
    _mm512_storeu_ps(acc_out + i * kNr, acc[i][0]);
    _mm512_storeu_ps(acc_out + i * kNr + 16, acc[i][1]);
  }
}

// The same sums as tile_native, in vdpbf16ps's order: per pair, + high·high, then + low·low,
// each add rounded (the products are exact, so a fused multiply-add gives the same bits).
void tile_emulated(const uint32_t* a, const uint32_t* b, int64_t pairs, float* acc_out) {
  float acc[kMr][kNr] = {};
  float bh[kNr], bl[kNr];
  for (int64_t p = 0; p < pairs; ++p) {
    for (int64_t j = 0; j < kNr; ++j) {
      bh[j] = high_half(b[p * kNr + j]);
      bl[j] = low_half(b[p * kNr + j]);
    }
    for (int64_t i = 0; i < kMr; ++i) {
      const float ah = high_half(a[p * kMr + i]), al = low_half(a[p * kMr + i]);
      for (int64_t j = 0; j < kNr; ++j) {
        const float t = acc[i][j] + ah * bh[j];
        acc[i][j] = t + al * bl[j];
      }
    }
  }
  std::memcpy(acc_out, acc, sizeof(acc));
}

// C (mr × nr, row stride ldc) = acc, or fma(a, X, acc) when X is given (one rounding).
void store_tile(const float* acc, int64_t mr, int64_t nr, float* C, int64_t ldc, const float* X,
                int64_t ldx, float a) {
  if (!X) {
    for (int64_t i = 0; i < mr; ++i)
      std::memcpy(C + i * ldc, acc + i * kNr, static_cast<size_t>(nr) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) C[i * ldc + j] = std::fma(a, X[i * ldx + j], acc[i * kNr + j]);
}

// The packed operands of one product, reused across the steps of one call.
struct Workspace {
  std::vector<uint32_t> left, right;
};

// A[n, n] = r(S) r(S)ᵀ, S (n, K) at row stride ld: the tiles touching the lower triangle,
// then the strict upper triangle copied from the lower.
void syrk_into(bool native, int64_t n, int64_t K, const float* S, int64_t ld, float* A,
               Workspace& w) {
  const int64_t pairs = (K + 1) / 2, blocks = (n + kMr - 1) / kMr, panels = (n + kNr - 1) / kNr;
  w.left.resize(static_cast<size_t>(blocks * pairs * kMr));
  w.right.resize(static_cast<size_t>(panels * pairs * kNr));
  uint32_t* left = w.left.data();
  uint32_t* right = w.right.data();
  const bool pack_parallel = n * K > kParallelWork;
#pragma omp parallel for schedule(static) if (pack_parallel)
  for (int64_t b = 0; b < blocks; ++b)
    pack_rows(S + b * kMr * ld, ld, K, std::min(kMr, n - b * kMr), kMr, left + b * pairs * kMr);
#pragma omp parallel for schedule(static) if (pack_parallel)
  for (int64_t q = 0; q < panels; ++q)
    pack_rows(S + q * kNr * ld, ld, K, std::min(kNr, n - q * kNr), kNr, right + q * pairs * kNr);
  // Tiles (block b, panel q) with a column ≤ a row, panel by panel (a thread's neighbouring
  // tiles share the panel).
  std::vector<std::pair<int64_t, int64_t>> tiles;
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t b = 0; b < blocks; ++b)
      if (q * kNr <= b * kMr + kMr - 1) tiles.emplace_back(b, q);
  const int64_t n_tiles = static_cast<int64_t>(tiles.size());
#pragma omp parallel for schedule(static) if (n_tiles > 1 && n * n * K / 2 > kParallelMacs)
  for (int64_t t = 0; t < n_tiles; ++t) {
    const auto [b, q] = tiles[static_cast<size_t>(t)];
    alignas(64) float acc[kMr * kNr];
    (native ? tile_native : tile_emulated)(left + b * pairs * kMr, right + q * pairs * kNr, pairs,
                                           acc);
    const int64_t i0 = b * kMr, j0 = q * kNr;
    store_tile(acc, std::min(kMr, n - i0), std::min(kNr, n - j0), A + i0 * n + j0, n, nullptr, 0,
               0.f);
  }
  for (int64_t i0 = 0; i0 < n; i0 += kNr)  // in 32 × 32 blocks (the reads run down columns)
    for (int64_t j0 = i0; j0 < n; j0 += kNr)
      for (int64_t i = i0; i < std::min(n, i0 + kNr); ++i)
        for (int64_t j = std::max(j0, i + 1); j < std::min(n, j0 + kNr); ++j)
          A[i * n + j] = A[j * n + i];
}

// Xn[n, m] = fma(a, X, r(B) r(X)) for B (n, n) and X (n, m), both compact.
void update_into(bool native, int64_t n, int64_t m, const float* B, const float* X, float a,
                 float* Xn, Workspace& w) {
  const int64_t pairs = (n + 1) / 2, blocks = (n + kMr - 1) / kMr, panels = (m + kNr - 1) / kNr;
  w.left.resize(static_cast<size_t>(blocks * pairs * kMr));
  w.right.resize(static_cast<size_t>(panels * pairs * kNr));
  uint32_t* left = w.left.data();
  uint32_t* right = w.right.data();
#pragma omp parallel for schedule(static) if (n * n > kParallelWork)
  for (int64_t b = 0; b < blocks; ++b)
    pack_rows(B + b * kMr * n, n, n, std::min(kMr, n - b * kMr), kMr, left + b * pairs * kMr);
#pragma omp parallel for schedule(static) if (n * m > kParallelWork)
  for (int64_t q = 0; q < panels; ++q)
    pack_cols(X + q * kNr, m, n, std::min(kNr, m - q * kNr), right + q * pairs * kNr);
  const int64_t n_tiles = blocks * panels;
#pragma omp parallel for schedule(static) if (n_tiles > 1 && n * n * m > kParallelMacs)
  for (int64_t t = 0; t < n_tiles; ++t) {
    const int64_t b = t % blocks, q = t / blocks;  // panel by panel
    alignas(64) float acc[kMr * kNr];
    (native ? tile_native : tile_emulated)(left + b * pairs * kMr, right + q * pairs * kNr, pairs,
                                           acc);
    const int64_t i0 = b * kMr, j0 = q * kNr;
    store_tile(acc, std::min(kMr, n - i0), std::min(kNr, m - j0), Xn + i0 * m + j0, m,
               X + i0 * m + j0, m, a);
  }
}

}  // namespace

void syrk_bf16(bool native, int64_t n, int64_t k, const float* X, int64_t ldx, float* A) {
  if (n == 0) return;
  Workspace w;
  syrk_into(native, n, k, X, ldx, A, w);
}

void newton_schulz_bf16(bool native, const float* G, float* out, int64_t rows, int64_t cols,
                        int steps, NewtonSchulzCoeffs coeffs, float eps) {
  const int64_t numel = rows * cols;
  if (numel == 0) return;
  // X_0 = G / (‖G‖_F + eps), as the fp32 kernel forms it.
  const float inv = static_cast<float>(1.0 / (std::sqrt(sum_squares(G, numel)) + eps));
  if (steps <= 0) {
#pragma omp parallel for schedule(static) if (numel > kParallelWork)
    for (int64_t i = 0; i < numel; ++i) out[i] = G[i] * inv;
    return;
  }
  const bool tall = rows > cols;         // iterate on Gᵀ: the small side n first
  const int64_t n = tall ? cols : rows;  // X is (n, m), compact
  const int64_t m = tall ? rows : cols;
  std::vector<float> X(static_cast<size_t>(numel)), next(X.size());
  std::vector<float> A(static_cast<size_t>(n * n)), B(A.size());
  if (tall) {
#pragma omp parallel for schedule(static) if (numel > kParallelWork)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i) X[j * m + i] = G[i * cols + j] * inv;
  } else {
#pragma omp parallel for schedule(static) if (numel > kParallelWork)
    for (int64_t i = 0; i < numel; ++i) X[i] = G[i] * inv;
  }
  Workspace w;
  for (int s = 0; s < steps; ++s) {
    syrk_into(native, n, m, X.data(), m, A.data(), w);  // A = r(X) r(X)ᵀ
    syrk_into(native, n, n, A.data(), n, B.data(), w);  // A·A = r(A) r(A)ᵀ
    for (int64_t i = 0; i < n * n; ++i) B[i] = std::fma(coeffs.c, B[i], coeffs.b * A[i]);
    update_into(native, n, m, B.data(), X.data(), coeffs.a, next.data(), w);
    std::swap(X, next);
  }
  if (tall) {
#pragma omp parallel for schedule(static) if (numel > kParallelWork)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) out[i * cols + j] = X[j * m + i];
  } else {
    std::memcpy(out, X.data(), static_cast<size_t>(numel) * sizeof(float));
  }
}

}  // namespace tinyr2::kernels::cpu
