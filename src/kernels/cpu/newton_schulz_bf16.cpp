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

constexpr int64_t kMr = kBf16Mr, kNr = kBf16Nr;  // a tile: kMr rows of the left operand × kNr
constexpr int64_t kPr = kNr / 2;                 // the pairs along a tile's kNr columns
constexpr int64_t kParallelWork = 1 << 15;       // elementwise loops and packing below this: serial
constexpr int64_t kParallelMacs = 1 << 18;       // products below this many multiply-adds: serial

// The native path's epilogues: plain C++ (shared with the emulated path, so the same bits),
// compiled for the AVX-512 CPU that runs the native tiles so that it vectorises.
#define TINYR2_NS_NATIVE __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define TINYR2_NS_INLINE [[gnu::always_inline]] inline

// bf16 bits of x, an fp32 denormal first flushed to ±0 (as vcvtneps2bf16 does).
TINYR2_NS_INLINE uint32_t bf16_daz(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u & 0x7f800000u) == 0 ? (u & 0x80000000u) : u;
  float y;
  std::memcpy(&y, &u, 4);
  return to_bf16(y);
}
TINYR2_NS_INLINE uint32_t pair_word(float lo, float hi) {
  return bf16_daz(lo) | (bf16_daz(hi) << 16);
}
inline float high_half(uint32_t w) {  // the odd (k + 1) element of a pair word, as fp32
  return from_bf16(static_cast<uint16_t>(w >> 16));
}
inline float low_half(uint32_t w) {  // the even (k) element
  return from_bf16(static_cast<uint16_t>(w & 0xffffu));
}

// ---- The packed operands. A pair word holds the bf16 values of two neighbours along the
// summed dimension (low half the even one). X (n, m) is held three ways, written by the
// epilogue that produces it (no separate packing pass):
//   L  syrk left:   blocks of kMr rows,    pairs along m: L[(b · pm + p) · kMr + i]
//   R  syrk right:  panels of kNr rows,    pairs along m: R[(q · pm + p) · kNr + i]
//   C  update right: panels of kNr columns, pairs along n: C[(q · pn + p) · kNr + j]
// The symmetric A and B (n, n) are packed from fp32 rows as the left and right operands of
// A·A and the left of B·X (by symmetry, pairs along a column = pairs along a row).

// Where a kMr × kNr tile of X (rows i0 + i, columns j0 + j) goes.
struct XSink {
  int64_t n, m, pn, pm;
  float* X = nullptr;  // X[r · x_rs + c · x_cs] (nullptr: no fp32 copy)
  int64_t x_rs = 0, x_cs = 0;
  uint32_t *L = nullptr, *R = nullptr, *C = nullptr;  // nullptr: not wanted
};

// Writes the tile v (zero outside the mr × nr valid part) to the sink. A full tile (the
// common case) takes fixed-size loops that compile to vector moves.
TINYR2_NS_INLINE void emit_x(const float (&v)[kMr][kNr], const XSink& s, int64_t i0, int64_t j0,
                             int64_t mr, int64_t nr) {
  const bool full = mr == kMr && nr == kNr;
  if (s.X) {
    if (s.x_cs != 1) {  // transposed (the final X of a tall matrix): column by column
      for (int64_t j = 0; j < nr; ++j)
        for (int64_t i = 0; i < mr; ++i) s.X[(i0 + i) * s.x_rs + (j0 + j) * s.x_cs] = v[i][j];
    } else if (full) {
      for (int64_t i = 0; i < kMr; ++i)
        for (int64_t j = 0; j < kNr; ++j) s.X[(i0 + i) * s.x_rs + j0 + j] = v[i][j];
    } else {
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j) s.X[(i0 + i) * s.x_rs + j0 + j] = v[i][j];
    }
  }
  if (s.C) {  // pairs of rows (2t, 2t + 1): kNr contiguous words each
    uint32_t* c = s.C + ((j0 / kNr) * s.pn + i0 / 2) * kNr;
    const int64_t nt = std::min(kMr / 2, s.pn - i0 / 2);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t j = 0; j < kNr; ++j) c[t * kNr + j] = pair_word(v[2 * t][j], v[2 * t + 1][j]);
  }
  if (s.L || s.R) {  // pairs of columns: the tile's kPr pairs of each row, transposed
    uint32_t wr[kMr][kPr], w[kPr][kMr];
    for (int64_t i = 0; i < kMr; ++i)
      for (int64_t u = 0; u < kPr; ++u) wr[i][u] = pair_word(v[i][2 * u], v[i][2 * u + 1]);
    for (int64_t u = 0; u < kPr; ++u)
      for (int64_t i = 0; i < kMr; ++i) w[u][i] = wr[i][u];
    const int64_t p0 = j0 / 2, np = std::min(kPr, s.pm - p0);
    if (s.L) {  // the block's words of pairs p0 .. p0 + np − 1 are contiguous
      uint32_t* d = s.L + ((i0 / kMr) * s.pm + p0) * kMr;
      if (np == kPr) {
        for (int64_t u = 0; u < kPr; ++u)
          for (int64_t i = 0; i < kMr; ++i) d[u * kMr + i] = w[u][i];
      } else {
        std::memcpy(d, w, static_cast<size_t>(np * kMr) * sizeof(uint32_t));
      }
    }
    if (s.R) {
      uint32_t* d = s.R + (i0 / kNr) * s.pm * kNr + i0 % kNr + p0 * kNr;
      if (mr == kMr && i0 % kNr + kMr <= kNr) {  // the block inside one panel
        for (int64_t u = 0; u < np; ++u)
          for (int64_t i = 0; i < kMr; ++i) d[u * kNr + i] = w[u][i];
      } else {
        for (int64_t i = 0; i < mr;) {  // the rows in one panel at a time
          const int64_t r = i0 + i, len = std::min(mr - i, kNr - r % kNr);
          uint32_t* e = s.R + (r / kNr) * s.pm * kNr + r % kNr + p0 * kNr;
          for (int64_t u = 0; u < np; ++u)
            for (int64_t l = 0; l < len; ++l) e[u * kNr + l] = w[u][i + l];
          i += len;
        }
      }
    }
  }
}

// X's first tile: v = scale · src[r · rs + c · cs], then to the sink.
TINYR2_NS_INLINE void load_x_impl(const float* src, int64_t rs, int64_t cs, float scale,
                                  const XSink& s, int64_t i0, int64_t j0, int64_t mr, int64_t nr) {
  float v[kMr][kNr];
  if (mr < kMr || nr < kNr) std::memset(v, 0, sizeof(v));
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) v[i][j] = src[(i0 + i) * rs + (j0 + j) * cs] * scale;
  emit_x(v, s, i0, j0, mr, nr);
}

// The tile's rows of X (n, m) compact, fetched into the cache while the tile computes.
TINYR2_NS_INLINE void prefetch_x(const float* X, int64_t m, int64_t i0, int64_t j0, int64_t mr) {
  for (int64_t i = 0; i < mr; ++i) {
    __builtin_prefetch(X + (i0 + i) * m + j0);
    __builtin_prefetch(X + (i0 + i) * m + j0 + 16);
  }
}

// Xn = fma(a, X, acc) on the tile (X (n, m) compact), then to the sink (which may be X).
TINYR2_NS_INLINE void update_epilogue_impl(const float* acc, const float* X, float a,
                                           const XSink& s, int64_t i0, int64_t j0, int64_t mr,
                                           int64_t nr) {
  float v[kMr][kNr];
  if (mr == kMr && nr == kNr) {
    for (int64_t i = 0; i < kMr; ++i)
      for (int64_t j = 0; j < kNr; ++j)
        v[i][j] = std::fma(a, X[(i0 + i) * s.m + j0 + j], acc[i * kNr + j]);
  } else {
    std::memset(v, 0, sizeof(v));
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j)
        v[i][j] = std::fma(a, X[(i0 + i) * s.m + j0 + j], acc[i * kNr + j]);
  }
  emit_x(v, s, i0, j0, mr, nr);
}

// A symmetric product's tile: M[r, c] = fma(cc, acc, cb · add[r, c]) (or acc when add is
// nullptr) for c ≤ r, and its mirror M[c, r] for c < r: every element written once.
TINYR2_NS_INLINE void sym_epilogue_impl(const float* acc, float* M, const float* add, float cc,
                                        float cb, int64_t n, int64_t i0, int64_t j0, int64_t mr,
                                        int64_t nr) {
  for (int64_t i = 0; i < mr; ++i) {
    const int64_t r = i0 + i, nj = std::min(nr, r - j0 + 1);  // columns c = j0 + j ≤ r
    float* row = M + r * n + j0;
    const float* a = acc + i * kNr;
    if (add) {
      const float* ad = add + r * n + j0;
      for (int64_t j = 0; j < nj; ++j) row[j] = std::fma(cc, a[j], cb * ad[j]);
    } else {
      for (int64_t j = 0; j < nj; ++j) row[j] = a[j];
    }
  }
  for (int64_t j = 0; j < nr; ++j) {  // the mirror, a column of the tile at a time
    const int64_t c = j0 + j;
    for (int64_t i = std::max<int64_t>(0, c + 1 - i0); i < mr; ++i)
      M[c * n + i0 + i] = M[(i0 + i) * n + c];
  }
}

// Row pair p of the symmetric M (n, n) as words, w[c] = (M[2p, c], M[2p + 1, c]) for c < n,
// zero to `len`; then copied into the blocks of ML and the panels of MR.
TINYR2_NS_INLINE void pack_sym_row_impl(const float* M, int64_t n, int64_t p, uint32_t* w,
                                        int64_t len, uint32_t* ML, uint32_t* MR) {
  const int64_t pn = (n + 1) / 2;
  const float* r0 = M + 2 * p * n;
  if (2 * p + 1 < n) {
    const float* r1 = r0 + n;
    for (int64_t c = 0; c < n; ++c) w[c] = pair_word(r0[c], r1[c]);
  } else {
    for (int64_t c = 0; c < n; ++c) w[c] = pair_word(r0[c], 0.f);
  }
  std::fill(w + n, w + len, 0u);
  if (ML)
    for (int64_t b = 0; b * kMr < n; ++b)
      std::memcpy(ML + (b * pn + p) * kMr, w + b * kMr, kMr * sizeof(uint32_t));
  if (MR)
    for (int64_t q = 0; q * kNr < n; ++q)
      std::memcpy(MR + (q * pn + p) * kNr, w + q * kNr, kNr * sizeof(uint32_t));
}

// acc[kMr · kNr] = Σ_p a_p ⊗ b_p over `pairs` pair words (a: kMr per pair, b: kNr per pair):
// the micro-kernel of gemm_bf16 (gemm_bf16_tile.h).
TINYR2_BF16_TARGET inline void tile_native(const uint32_t* a, const uint32_t* b, int64_t pairs,
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
inline void tile_emulated(const uint32_t* a, const uint32_t* b, int64_t pairs, float* acc_out) {
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

// A path: its tile and epilogues, the same C++ compiled twice.
struct Path {
  void (*load_x)(const float*, int64_t, int64_t, float, const XSink&, int64_t, int64_t, int64_t,
                 int64_t);
  void (*pack_sym_row)(const float*, int64_t, int64_t, uint32_t*, int64_t, uint32_t*, uint32_t*);
  void (*sym_tile)(const uint32_t*, const uint32_t*, int64_t, float*, const float*, float, float,
                   int64_t, int64_t, int64_t, int64_t, int64_t);
  void (*update_tile)(const uint32_t*, const uint32_t*, int64_t, const float*, float, const XSink&,
                      int64_t, int64_t, int64_t, int64_t);
};

#define TINYR2_NS_PATH(ATTR, NAME, TILE)                                                         \
  ATTR void NAME##_load_x(const float* src, int64_t rs, int64_t cs, float scale, const XSink& s, \
                          int64_t i0, int64_t j0, int64_t mr, int64_t nr) {                      \
    load_x_impl(src, rs, cs, scale, s, i0, j0, mr, nr);                                          \
  }                                                                                              \
  ATTR void NAME##_pack_sym_row(const float* M, int64_t n, int64_t p, uint32_t* w, int64_t len,  \
                                uint32_t* ML, uint32_t* MR) {                                    \
    pack_sym_row_impl(M, n, p, w, len, ML, MR);                                                  \
  }                                                                                              \
  ATTR void NAME##_sym_tile(const uint32_t* a, const uint32_t* b, int64_t pairs, float* M,       \
                            const float* add, float cc, float cb, int64_t n, int64_t i0,         \
                            int64_t j0, int64_t mr, int64_t nr) {                                \
    alignas(64) float acc[kMr * kNr];                                                            \
    TILE(a, b, pairs, acc);                                                                      \
    sym_epilogue_impl(acc, M, add, cc, cb, n, i0, j0, mr, nr);                                   \
  }                                                                                              \
  ATTR void NAME##_update_tile(const uint32_t* a, const uint32_t* b, int64_t pairs,              \
                               const float* X, float xa, const XSink& s, int64_t i0, int64_t j0, \
                               int64_t mr, int64_t nr) {                                         \
    alignas(64) float acc[kMr * kNr];                                                            \
    prefetch_x(X, s.m, i0, j0, mr);                                                              \
    TILE(a, b, pairs, acc);                                                                      \
    update_epilogue_impl(acc, X, xa, s, i0, j0, mr, nr);                                         \
  }                                                                                              \
  constexpr Path NAME##_path = {NAME##_load_x, NAME##_pack_sym_row, NAME##_sym_tile,             \
                                NAME##_update_tile};

TINYR2_NS_PATH(TINYR2_NS_NATIVE, native, tile_native)
TINYR2_NS_PATH(, emulated, tile_emulated)
#undef TINYR2_NS_PATH

// The buffers of one call, reused across its steps.
struct Work {
  int64_t n, m, pn, pm, bn, qn, qm;
  std::vector<uint32_t> L, R, C, C_next, AL, AR;  // AL also holds B's left operand
  std::vector<float> A, B;
  std::vector<std::pair<int64_t, int64_t>> lower;  // the (block, panel) tiles of a syrk

  Work(int64_t n_, int64_t m_)
      : n(n_),
        m(m_),
        pn((n_ + 1) / 2),
        pm((m_ + 1) / 2),
        bn((n_ + kMr - 1) / kMr),
        qn((n_ + kNr - 1) / kNr),
        qm((m_ + kNr - 1) / kNr) {
    L.resize(static_cast<size_t>(bn * pm * kMr));
    R.resize(static_cast<size_t>(qn * pm * kNr));  // zero: the rows past n stay so
    // Tiles (block b, panel q) with a column ≤ a row, panel by panel (a thread's
    // neighbouring tiles share the panel).
    for (int64_t q = 0; q < qn; ++q)
      for (int64_t b = 0; b < bn; ++b)
        if (q * kNr <= b * kMr + kMr - 1) lower.emplace_back(b, q);
  }
  void for_steps() {
    C.resize(static_cast<size_t>(qm * pn * kNr));
    C_next.resize(C.size());
    AL.resize(static_cast<size_t>(bn * pn * kMr));
    AR.resize(static_cast<size_t>(qn * pn * kNr));
    A.resize(static_cast<size_t>(n * n));
    B.resize(A.size());
  }
  XSink sink(float* X, int64_t rs, int64_t cs, uint32_t* C_out) {
    return XSink{n, m, pn, pm, X, rs, cs, L.data(), R.data(), C_out};
  }
};

// X (n, m) = scale · src[r · rs + c · cs] into the sink, tile by tile.
void load_x(const Path& path, const float* src, int64_t rs, int64_t cs, float scale, const XSink& s,
            const Work& w) {
  const int64_t bn = w.bn, tiles = bn * w.qm;
#pragma omp parallel for schedule(static) if (w.n * w.m > kParallelWork)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i0 = (t % bn) * kMr, j0 = (t / bn) * kNr;
    path.load_x(src, rs, cs, scale, s, i0, j0, std::min(kMr, w.n - i0), std::min(kNr, w.m - j0));
  }
}

// M[n, n] = fma(cc, l·r, cb · add) (or l·r) for the packed operands l (blocks) and r
// (panels) of `pairs` pairs: the lower-triangle tiles, each mirrored.
void syrk_into(const Path& path, const Work& w, const uint32_t* l, const uint32_t* r, int64_t pairs,
               float* M, const float* add, float cc, float cb) {
  const int64_t n = w.n, n_tiles = static_cast<int64_t>(w.lower.size());
#pragma omp parallel for schedule(static) if (n_tiles > 1 && n * n * pairs > kParallelMacs)
  for (int64_t t = 0; t < n_tiles; ++t) {
    const auto [b, q] = w.lower[static_cast<size_t>(t)];
    const int64_t i0 = b * kMr, j0 = q * kNr;
    path.sym_tile(l + b * pairs * kMr, r + q * pairs * kNr, pairs, M, add, cc, cb, n, i0, j0,
                  std::min(kMr, n - i0), std::min(kNr, n - j0));
  }
}

// The symmetric M (n, n) packed into ML (blocks; nullptr: skipped) and MR (panels).
void pack_sym(const Path& path, const Work& w, const float* M, uint32_t* ML, uint32_t* MR) {
  const int64_t len = std::max(w.bn * kMr, w.qn * kNr);
#pragma omp parallel if (w.n * w.n > kParallelWork)
  {
    std::vector<uint32_t> row(static_cast<size_t>(len));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < w.pn; ++p) path.pack_sym_row(M, w.n, p, row.data(), len, ML, MR);
  }
}

}  // namespace

void syrk_bf16(bool native, int64_t n, int64_t k, const float* X, int64_t ldx, float* A) {
  if (n == 0) return;
  const Path& path = native ? native_path : emulated_path;
  Work w(n, k);
  load_x(path, X, ldx, 1, 1.f, w.sink(nullptr, 0, 0, nullptr), w);
  syrk_into(path, w, w.L.data(), w.R.data(), w.pm, A, nullptr, 0.f, 0.f);
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
  const Path& path = native ? native_path : emulated_path;
  const bool tall = rows > cols;         // iterate on Gᵀ: the small side n first
  const int64_t n = tall ? cols : rows;  // X is (n, m), compact
  const int64_t m = tall ? rows : cols;
  Work w(n, m);
  w.for_steps();
  // X in fp32: in `out` itself when not transposed (G is read only here, before any write).
  std::vector<float> x_buffer(tall ? static_cast<size_t>(numel) : 0);
  float* X = tall ? x_buffer.data() : out;
  load_x(path, G, tall ? 1 : cols, tall ? cols : 1, inv, w.sink(X, m, 1, w.C.data()), w);
  const int64_t tiles = w.bn * w.qm;
  for (int s = 0; s < steps; ++s) {
    syrk_into(path, w, w.L.data(), w.R.data(), w.pm, w.A.data(), nullptr, 0.f, 0.f);  // A
    pack_sym(path, w, w.A.data(), w.AL.data(), w.AR.data());
    syrk_into(path, w, w.AL.data(), w.AR.data(), w.pn, w.B.data(), w.A.data(), coeffs.c,
              coeffs.b);  // B = fma(c, A·A, b·A)
    pack_sym(path, w, w.B.data(), w.AL.data(), nullptr);
    // X = fma(a, X, r(B) r(X)) in place (a tile reads only its own X); the next step's
    // operands straight from the epilogue, the last step's X into `out`.
    const bool last = s + 1 == steps;
    XSink sink = w.sink(X, m, 1, w.C_next.data());
    if (last) {
      sink.L = sink.R = sink.C = nullptr;
      if (tall) sink = XSink{n, m, w.pn, w.pm, out, 1, cols, nullptr, nullptr, nullptr};
    }
    const uint32_t* bl = w.AL.data();
    const uint32_t* xc = w.C.data();
#pragma omp parallel for schedule(static) if (tiles > 1 && n * n * m > kParallelMacs)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t b = t % w.bn, q = t / w.bn;  // panel by panel
      const int64_t i0 = b * kMr, j0 = q * kNr;
      path.update_tile(bl + b * w.pn * kMr, xc + q * w.pn * kNr, w.pn, X, coeffs.a, sink, i0, j0,
                       std::min(kMr, n - i0), std::min(kNr, m - j0));
    }
    std::swap(w.C, w.C_next);
  }
}

}  // namespace tinyr2::kernels::cpu
