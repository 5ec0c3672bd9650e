#include "kernels/cpu/nsa_block_attention.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/nsa_tiles.h"

namespace tinyr2::kernels::cpu {

namespace {

using namespace attention_detail;

constexpr int64_t kQueryTile = 64;  // queries per work unit (a multiple of kRows)
constexpr double kParallelWork = 1 << 16;
constexpr int32_t kNoBlock = std::numeric_limits<int32_t>::max();
static_assert(kKeyTile == 32, "a key tile's mask is one uint32");

// Bits [a, e) of a 32-bit mask, 0 ≤ a < e ≤ 32.
inline uint32_t bit_range(int64_t a, int64_t e) {
  const uint32_t below_e = e >= 32 ? ~0u : (1u << e) - 1u;
  return below_e & ~((1u << a) - 1u);
}

// The queries t0 … t0+nr−1 of one batch row: their visible blocks, the order they are
// processed in, and the key tiles they touch. Built the same way by forward and backward.
class QueryTile {
 public:
  QueryTile(int64_t n, int64_t block_size) : n_(n), bs_(block_size) {}

  // blocks: the (nr, n) rows of the tile's queries; their positions are pos0, pos0 + 1, …
  void build(const int32_t* blocks, int64_t nr, int64_t pos0, int64_t Tk) {
    nr_ = nr;
    sets_.assign(static_cast<size_t>(nr * n_), kNoBlock);
    ends_.resize(static_cast<size_t>(nr));
    tiles_.clear();
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t end = std::min(pos0 + r + 1, Tk);  // keys u < end are not after the query
      ends_[r] = end;
      int32_t* set = sets_.data() + r * n_;
      int64_t c = 0;
      for (int64_t i = 0; i < n_; ++i) {
        const int32_t j = blocks[r * n_ + i];
        if (j >= 0 && j * bs_ < end) set[c++] = j;
      }
      std::sort(set, set + c);
      c = std::unique(set, set + c) - set;
      for (int64_t i = c; i < n_; ++i) set[i] = kNoBlock;
      for (int64_t i = 0; i < c; ++i) {
        const int64_t a0 = set[i] * bs_ / kKeyTile,
                      a1 = (std::min((set[i] + 1) * bs_, end) - 1) / kKeyTile;
        for (int64_t a = a0; a <= a1; ++a) tiles_.push_back(a);
      }
    }
    std::sort(tiles_.begin(), tiles_.end());
    tiles_.erase(std::unique(tiles_.begin(), tiles_.end()), tiles_.end());
  }

  const std::vector<int64_t>& key_tiles() const { return tiles_; }

  // The tile rows that see keys of key tile a, ascending, into rows (with their key masks
  // into masks), padded with −1 (mask 0) to whole groups of kRows; returns the padded count.
  int64_t rows_seeing(int64_t a, int32_t* rows, uint32_t* masks) const {
    int64_t c = 0;
    for (int32_t r = 0; r < nr_; ++r) {
      const uint32_t m = mask(r, a);
      if (m == 0) continue;
      rows[c] = r;
      masks[c++] = m;
    }
    for (; c % kRows != 0; ++c) {
      rows[c] = -1;
      masks[c] = 0;
    }
    return c;
  }

  // The keys of key tile a (keys [32a, 32a + 32)) that tile row r sees, as bits.
  uint32_t mask(int32_t r, int64_t a) const {
    const int64_t j0 = a * kKeyTile, end = std::min(ends_[r], j0 + kKeyTile);
    const int32_t* set = sets_.data() + r * n_;
    uint32_t m = 0;
    for (int64_t i = 0; i < n_ && set[i] != kNoBlock; ++i) {
      const int64_t lo = std::max<int64_t>(set[i] * bs_, j0),
                    hi = std::min<int64_t>((set[i] + 1) * bs_, end);
      if (set[i] * bs_ >= end) break;
      if (lo < hi) m |= bit_range(lo - j0, hi - j0);
    }
    return m;
  }

 private:
  int64_t n_, bs_, nr_ = 0;
  std::vector<int32_t> sets_;   // (nr, n): valid blocks, ascending, kNoBlock-padded
  std::vector<int64_t> ends_;   // per row: one past the last key it may see
  std::vector<int64_t> tiles_;  // key tiles touched, ascending
};

// The online-softmax step of attention.cpp for one row with a key mask: sr holds the row's
// scaled scores against a key tile, the row sees the keys whose bit is set in mask. With
// keys here: m' = max(m, max s), alpha = exp(m − m'), l' = alpha·l + Σ exp(s − m'); sr
// becomes P = exp(s − m') on the row's keys and exactly 0 elsewhere. Without keys here:
// P = 0 and alpha = 1. Returns alpha.
inline float online_softmax_row(float* sr, uint32_t mask, float& m, float& l) {
  if (mask == 0) {
    std::fill(sr, sr + kKeyTile, 0.f);
    return 1.f;
  }
  float mx = m;
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < kKeyTile; ++j) {
    const float x = (mask >> j) & 1u ? sr[j] : kNegInf;
    mx = x > mx ? x : mx;
  }
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < kKeyTile; ++j) {
    const float p = (mask >> j) & 1u ? fast_exp(sr[j] - mx) : 0.f;
    sr[j] = p;
    sum += p;
  }
  const float alpha = fast_exp(m - mx);  // 0 on the row's first keys (m = −inf)
  l = l * alpha + sum;
  m = mx;
  return alpha;
}

// For one row: P ← exp(S − lse) and dS ← scale·P·(dP − delta) on the keys of mask, exactly
// 0 elsewhere (p holds S, ds holds dP on entry).
inline void probs_and_dscores(float* p, float* ds, uint32_t mask, float lse, float delta,
                              float scale) {
  if (mask == 0) {
    lse = 0.f;  // keep the exps finite; everything is masked to 0 anyway
    delta = 0.f;
  }
#pragma omp simd
  for (int64_t j = 0; j < kKeyTile; ++j) {
    const bool in = (mask >> j) & 1u;
    const float e = fast_exp(p[j] - lse);
    p[j] = in ? e : 0.f;
    ds[j] = in ? scale * e * (ds[j] - delta) : 0.f;
  }
}

// y += Σ_{j ∈ [ja, jb)} w[j] · x_j for the rows x_j at x + j·ld (row-major keys or values,
// w exactly 0 off the row's keys; rows past jb are never read), four rows per pass over y.
inline void rows_axpy(const float* w, const float* x, int64_t ld, int64_t ja, int64_t jb, float* y,
                      int64_t D) {
  int64_t j = ja;
  for (; j + 4 <= jb; j += 4)
    axpy4(w[j], x + j * ld, w[j + 1], x + (j + 1) * ld, w[j + 2], x + (j + 2) * ld, w[j + 3],
          x + (j + 3) * ld, y, D);
  for (; j < jb; ++j) axpy(w[j], x + j * ld, y, D);
}

// The scores of query rows against a key tile, s[r·kKeyTile + j] = a · x_r·k_j for the
// keys j < nk at kbase + j·ld: through the transposed tile kt when many rows share the tile
// (transposing costs about as much as scoring a few rows), else straight from the key rows,
// four dot products at a time. Columns j ≥ nk (and, on the direct path, padding rows r ≥ c)
// get 0; they are masked out either way. kD > 0: the width D at compile time (nsa_tiles.h).
template <int64_t kD>
struct TileScores {
  bool transposed;
  const float* kt;  // transposed: D × kKeyTile
  const float* kbase;
  int64_t ld, nk, D;

  // A group of 4 rows, the first c real.
  void group(const float* const x[kRows], int64_t c, float a, float* s) const {
    if (transposed) {
      nsa_tiles::scores4<kKeyTile, kD>(x, kt, kKeyTile, D, a, s);
      return;
    }
    std::fill(s, s + kRows * kKeyTile, 0.f);
    for (int64_t r = 0; r < c; ++r) direct(x[r], a, s + r * kKeyTile);
  }

  // One row.
  void row(const float* x, float a, float* s) const {
    if (!transposed) {
      std::fill(s, s + kKeyTile, 0.f);
      direct(x, a, s);
      return;
    }
    float acc[kKeyTile] = {};
    const int64_t n_d = kD > 0 ? kD : D;
    for (int64_t d = 0; d < n_d; ++d) {
      const float c = x[d];
      const float* kr = kt + d * kKeyTile;
#pragma omp simd
      for (int64_t j = 0; j < kKeyTile; ++j) acc[j] += c * kr[j];
    }
#pragma omp simd
    for (int64_t j = 0; j < kKeyTile; ++j) s[j] = a * acc[j];
  }

 private:
  void direct(const float* x, float a, float* s) const {
    for (int64_t j = 0; j < nk; j += 4) {
      const float* y[4];
      for (int64_t i = 0; i < 4; ++i) y[i] = kbase + std::min(j + i, nk - 1) * ld;
      float out[4];
      dot4(x, y[0], y[1], y[2], y[3], kD > 0 ? kD : D, a, out);
      for (int64_t i = 0; i < 4 && j + i < nk; ++i) s[j + i] = out[i];
    }
  }
};

// Tiles seen by at most this many rows are scored from the key rows, without a transpose.
constexpr int64_t kDirectRows = 4;

// The columns [ja, jb) spanned by the set bits of a non-zero mask.
inline void mask_span(uint32_t mask, int64_t& ja, int64_t& jb) {
  ja = std::countr_zero(mask);
  jb = kKeyTile - std::countl_zero(mask);
}

// Real (non-padding) rows of a group: padding comes last.
inline int64_t real_rows(const int32_t* group) {
  int64_t c = 0;
  while (c < kRows && group[c] >= 0) ++c;
  return c;
}

double block_work(int64_t B, int64_t Tq, int64_t H, int64_t Dk, int64_t Dv, int64_t n, int64_t bs) {
  return double(B * Tq * H) * double(n * bs) * double(Dk + Dv);
}

// The forward, with the head widths fixed at compile time when kDk, kDv > 0.
template <int64_t kDk, int64_t kDv>
void forward_impl(const float* q, const float* k, const float* v, const int32_t* blocks, float* o,
                  float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk_rt,
                  int64_t Dv_rt, int64_t n, int64_t block_size, int64_t q_offset, float scale) {
  const int64_t Dk = kDk > 0 ? kDk : Dk_rt, Dv = kDv > 0 ? kDv : Dv_rt;
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const int64_t n_qtiles = (Tq + kQueryTile - 1) / kQueryTile;
#pragma omp parallel if (block_work(B, Tq, H, Dk, Dv, n, block_size) > kParallelWork)
  {
    QueryTile tile(n, block_size);
    // m, l: running max and sum per tile row
    std::vector<float> kt(Dk * kKeyTile), s(kRows * kKeyTile), m(kQueryTile), l(kQueryTile),
        scratch(Dv);           // the output row of padding slots
    int32_t rows[kQueryTile];  // the rows that see a key tile, and their masks
    uint32_t masks[kQueryTile];
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t qt = 0; qt < n_qtiles; ++qt) {
          const int64_t t0 = qt * kQueryTile, nr = std::min(kQueryTile, Tq - t0);
          tile.build(blocks + (b * Tq + t0) * n, nr, q_offset + t0, Tk);
          const float* kbh = k + b * Tk * ldk + h * Dk;  // key u at kbh + u·ldk
          const float* vbh = v + b * Tk * ldv + h * Dv;
          auto qrow = [&](int64_t r) { return q + ((b * Tq + t0 + r) * H + h) * Dk; };
          auto orow = [&](int64_t r) { return o + ((b * Tq + t0 + r) * H + h) * Dv; };
          for (int64_t r = 0; r < nr; ++r) std::fill(orow(r), orow(r) + Dv, 0.f);
          std::fill(m.begin(), m.end(), kNegInf);  // indexed by tile row
          std::fill(l.begin(), l.end(), 0.f);
          for (const int64_t a : tile.key_tiles()) {
            const int64_t j0 = a * kKeyTile, nk = std::min(kKeyTile, Tk - j0);
            const int64_t n_rows = tile.rows_seeing(a, rows, masks);
            const bool transposed = n_rows > kDirectRows;
            if (transposed) transpose_tile(kbh + j0 * ldk, ldk, nk, Dk, kt.data());
            const TileScores<kDk> scores{transposed, kt.data(), kbh + j0 * ldk, ldk, nk, Dk};
            for (int64_t g = 0; g < n_rows; g += kRows) {
              const uint32_t* mask = masks + g;
              const uint32_t any = mask[0] | mask[1] | mask[2] | mask[3];
              int64_t ja, jb;
              mask_span(any, ja, jb);
              const int64_t c = real_rows(rows + g);
              if (c == 1) {  // one row: a 4-row register tile would be 3/4 padding
                const int32_t r = rows[g];
                scores.row(qrow(r), scale, s.data());
                const float alpha = online_softmax_row(s.data(), mask[0], m[r], l[r]);
                float* y = orow(r);
                if (alpha != 1.f)
                  for (int64_t d = 0; d < Dv; ++d) y[d] *= alpha;
                rows_axpy(s.data(), vbh + j0 * ldv, ldv, ja, jb, y, Dv);
                continue;
              }
              const float* x[kRows];
              float* y[kRows];
              float alpha[kRows];
              for (int64_t i = 0; i < kRows; ++i)
                x[i] = qrow(i < c ? rows[g + i] : rows[g]);  // padding: a real row
              scores.group(x, c, scale, s.data());
              for (int64_t i = 0; i < kRows; ++i) {
                const int32_t r = rows[g + i];
                y[i] = r >= 0 ? orow(r) : scratch.data();
                alpha[i] = r >= 0 ? online_softmax_row(s.data() + i * kKeyTile, mask[i], m[r], l[r])
                                  : online_softmax_row(s.data() + i * kKeyTile, 0, m[0], l[0]);
              }
              nsa_tiles::pv4<kDv>(s.data(), vbh + j0 * ldv, ldv, ja, jb, Dv, y, alpha);
            }
          }
          for (int64_t r = 0; r < nr; ++r) {
            const float lr = l[r];
            if (lr > 0.f) {
              const float inv = 1.f / lr;
              float* ot = orow(r);
              for (int64_t c = 0; c < Dv; ++c) ot[c] *= inv;
            }
            if (lse) lse[(b * Tq + t0 + r) * H + h] = lr > 0.f ? m[r] + std::log(lr) : kNegInf;
          }
        }
  }
}

// Per-thread buffers of the backward.
struct BackwardScratch {
  QueryTile tile;
  std::vector<float> kt, vt, dkt, dvt, P, dS, delta, lse_r, Xb, Yb, scratch;
  BackwardScratch(int64_t n, int64_t block_size, int64_t Dk, int64_t Dv)
      : tile(n, block_size),
        kt(Dk * kKeyTile),
        vt(Dv * kKeyTile),
        dkt(kKeyTile * Dk),
        dvt(kKeyTile * Dv),
        P((kQueryTile + kRows) * kKeyTile),
        dS((kQueryTile + kRows) * kKeyTile),
        delta(kQueryTile),
        lse_r(kQueryTile),
        Xb(kQueryTile * Dk),
        Yb(kQueryTile * Dv),
        scratch(Dk) {}  // scratch: dq of padding slots
};

// The backward of the query tiles [qt0, qt1) of batch row b, head h: dq of their rows, and
// their dk, dv contributions added into the key rows at gk + u·ldgk, gv + u·ldgv (null: skip).
// kDk, kDv > 0: the head widths at compile time.
template <int64_t kDk, int64_t kDv>
void tiles_backward(BackwardScratch& w, const float* q, const float* k, const float* v,
                    const int32_t* blocks, const float* o, const float* lse, const float* dout,
                    float* dq, float* gk, int64_t ldgk, float* gv, int64_t ldgv, int64_t b,
                    int64_t h, int64_t qt0, int64_t qt1, int64_t Tq, int64_t Tk, int64_t H,
                    int64_t Dk_rt, int64_t Dv_rt, int64_t n, int64_t q_offset, float scale) {
  const int64_t Dk = kDk > 0 ? kDk : Dk_rt, Dv = kDv > 0 ? kDv : Dv_rt;
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const float* kbh = k + b * Tk * ldk + h * Dk;  // key u at kbh + u·ldk
  const float* vbh = v + b * Tk * ldv + h * Dv;
  QueryTile& tile = w.tile;
  int32_t rows[kQueryTile];  // the rows that see a key tile, and their masks
  uint32_t masks[kQueryTile];
  for (int64_t qt = qt0; qt < qt1; ++qt) {
    const int64_t t0 = qt * kQueryTile, nr = std::min(kQueryTile, Tq - t0);
    tile.build(blocks + (b * Tq + t0) * n, nr, q_offset + t0, Tk);
    auto row = [&](int64_t r) { return (b * Tq + t0 + r) * H + h; };  // (b, t, h) index
    for (int64_t r = 0; r < nr; ++r) {                                // D_t = dO_t · o_t
      const float *g = dout + row(r) * Dv, *ot = o + row(r) * Dv;
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int64_t c = 0; c < Dv; ++c) acc += g[c] * ot[c];
      w.delta[r] = acc;
      w.lse_r[r] = lse[row(r)];
    }
    for (const int64_t a : tile.key_tiles()) {
      const int64_t j0 = a * kKeyTile, nk = std::min(kKeyTile, Tk - j0);
      const int64_t n_rows = tile.rows_seeing(a, rows, masks);
      if (n_rows == 0) continue;
      const bool transposed = n_rows > kDirectRows;
      if (transposed) {
        transpose_tile(kbh + j0 * ldk, ldk, nk, Dk, w.kt.data());
        transpose_tile(vbh + j0 * ldv, ldv, nk, Dv, w.vt.data());
      }
      const TileScores<kDk> k_scores{transposed, w.kt.data(), kbh + j0 * ldk, ldk, nk, Dk};
      const TileScores<kDv> v_scores{transposed, w.vt.data(), vbh + j0 * ldv, ldv, nk, Dv};
      int64_t nb = 0;  // buffered rows of P, dS, Xb (q) and Yb (dO)
      uint32_t span = 0;
      for (int64_t g = 0; g < n_rows; g += kRows) {
        const uint32_t* mask = masks + g;
        const uint32_t any = mask[0] | mask[1] | mask[2] | mask[3];
        int64_t ja, jb;
        mask_span(any, ja, jb);
        const int64_t c = real_rows(rows + g);
        if (c == 1) {  // one row: straight into dq, dk, dv (this item owns them)
          const int32_t r = rows[g];
          const float *qr = q + row(r) * Dk, *gr = dout + row(r) * Dv;
          float *pr = w.P.data() + nb * kKeyTile, *dr = w.dS.data() + nb * kKeyTile;  // free rows
          k_scores.row(qr, scale, pr);                                                // S
          v_scores.row(gr, 1.f, dr);  // dP = dO·Vᵀ
          probs_and_dscores(pr, dr, mask[0], w.lse_r[r], w.delta[r], scale);
          if (dq) rows_axpy(dr, kbh + j0 * ldk, ldk, ja, jb, dq + row(r) * Dk, Dk);
          for (int64_t j = ja; j < jb; ++j) {
            if (!((mask[0] >> j) & 1u)) continue;
            if (gk) axpy(dr[j], qr, gk + (j0 + j) * ldgk, Dk);
            if (gv) axpy(pr[j], gr, gv + (j0 + j) * ldgv, Dv);
          }
          continue;
        }
        span |= any;
        const float *x[kRows], *y[kRows];
        float* gq[kRows];
        for (int64_t i = 0; i < kRows; ++i) {
          const int32_t r = rows[g + i];
          float* xb = w.Xb.data() + (nb + i) * Dk;
          float* yb = w.Yb.data() + (nb + i) * Dv;
          if (r >= 0) {
            nsa_tiles::copy_row<kDk>(q + row(r) * Dk, Dk, xb);
            nsa_tiles::copy_row<kDv>(dout + row(r) * Dv, Dv, yb);
          } else {  // padding: zero rows (P and dS are 0 there too)
            std::fill(xb, xb + Dk, 0.f);
            std::fill(yb, yb + Dv, 0.f);
          }
          x[i] = xb;
          y[i] = yb;
          gq[i] = r >= 0 && dq ? dq + row(r) * Dk : w.scratch.data();
        }
        float* Pb = w.P.data() + nb * kKeyTile;
        float* dSb = w.dS.data() + nb * kKeyTile;
        k_scores.group(x, c, scale, Pb);  // S
        v_scores.group(y, c, 1.f, dSb);   // dP = dO·Vᵀ
        for (int64_t i = 0; i < kRows; ++i) {
          const int32_t r = rows[g + i];
          probs_and_dscores(Pb + i * kKeyTile, dSb + i * kKeyTile, mask[i],
                            r >= 0 ? w.lse_r[r] : 0.f, r >= 0 ? w.delta[r] : 0.f, scale);
        }
        if (dq) nsa_tiles::pv4<kDk>(dSb, kbh + j0 * ldk, ldk, ja, jb, Dk, gq, kOnes);  // dq += dS·K
        nb += kRows;
      }
      if (nb == 0) continue;
      int64_t ja, jb;
      mask_span(span, ja, jb);
      if (gv) {
        std::fill(w.dvt.begin(), w.dvt.end(), 0.f);
        nsa_tiles::atb4<kDv>(w.P.data(), w.Yb.data(), nb, ja, jb, Dv, w.dvt.data());
        for (int64_t j = ja; j < std::min(jb, nk); ++j)
          axpy(1.f, w.dvt.data() + j * Dv, gv + (j0 + j) * ldgv, Dv);
      }
      if (gk) {
        std::fill(w.dkt.begin(), w.dkt.end(), 0.f);
        nsa_tiles::atb4<kDk>(w.dS.data(), w.Xb.data(), nb, ja, jb, Dk, w.dkt.data());
        for (int64_t j = ja; j < std::min(jb, nk); ++j)
          axpy(1.f, w.dkt.data() + j * Dk, gk + (j0 + j) * ldgk, Dk);
      }
    }
  }
}

using BackwardTiles = void (*)(BackwardScratch&, const float*, const float*, const float*,
                               const int32_t*, const float*, const float*, const float*, float*,
                               float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                               int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                               float);

// The default widths (Dk 96, Dv 32) run the compile-time-width instance.
bool default_widths(int64_t Dk, int64_t Dv) {
  return Dk == 96 && Dv == 32;
}

// Floats of the per-item dk, dv copies the split backward may allocate.
constexpr double kMaxSplitFloats = 16 << 20;

}  // namespace

void block_attention_forward(const float* q, const float* k, const float* v, const int32_t* blocks,
                             float* o, float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                             int64_t Dk, int64_t Dv, int64_t n, int64_t block_size,
                             int64_t q_offset, float scale) {
  if (default_widths(Dk, Dv))
    forward_impl<96, 32>(q, k, v, blocks, o, lse, B, Tq, Tk, H, Dk, Dv, n, block_size, q_offset,
                         scale);
  else
    forward_impl<0, 0>(q, k, v, blocks, o, lse, B, Tq, Tk, H, Dk, Dv, n, block_size, q_offset,
                       scale);
}

// With at least as many (b, h) pairs as threads, an item is a (b, h) pair, which owns its dq,
// dk and dv rows. With fewer, each head's query tiles are split into G contiguous parts, an
// item (b, h, part) writes its dq rows and adds its dk, dv contributions into a zeroed copy
// of the head's rows of its own, and the copies are then summed into dk, dv part by part in
// order: deterministic for a given thread count (G depends on it), no atomics.
void block_attention_backward(const float* q, const float* k, const float* v, const int32_t* blocks,
                              const float* o, const float* lse, const float* dout, float* dq,
                              float* dk, float* dv, int64_t B, int64_t Tq, int64_t Tk, int64_t H,
                              int64_t Dk, int64_t Dv, int64_t n, int64_t block_size,
                              int64_t q_offset, float scale) {
  if (!dq && !dk && !dv) return;
  const BackwardTiles backward_tiles =
      default_widths(Dk, Dv) ? &tiles_backward<96, 32> : &tiles_backward<0, 0>;
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const int64_t n_qtiles = (Tq + kQueryTile - 1) / kQueryTile;
  const bool par = block_work(B, Tq, H, Dk, Dv, n, block_size) > kParallelWork;
  const int64_t threads = par ? omp_get_max_threads() : 1, BH = B * H;
  int64_t G = 1;
  if (BH < threads) {
    G = std::min<int64_t>(n_qtiles, (threads + BH - 1) / BH);
    const double per_part = double(BH) * double(Tk) * double((dk ? Dk : 0) + (dv ? Dv : 0));
    while (G > 1 && double(G) * per_part > kMaxSplitFloats) --G;
  }
  if (G == 1) {
#pragma omp parallel if (par)
    {
      BackwardScratch w(n, block_size, Dk, Dv);
#pragma omp for collapse(2) schedule(static)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          backward_tiles(w, q, k, v, blocks, o, lse, dout, dq,
                         dk ? dk + b * Tk * ldk + h * Dk : nullptr, ldk,
                         dv ? dv + b * Tk * ldv + h * Dv : nullptr, ldv, b, h, 0, n_qtiles, Tq, Tk,
                         H, Dk, Dv, n, q_offset, scale);
    }
    return;
  }
  const int64_t per = (n_qtiles + G - 1) / G;  // query tiles per part
  // part (b, h, g): its dk copy at pk + ((b·H + h)·G + g)·Tk·Dk, rows of Dk (dv alike)
  std::vector<float> pk(dk ? static_cast<size_t>(BH * G * Tk * Dk) : 0),
      pv(dv ? static_cast<size_t>(BH * G * Tk * Dv) : 0);
  const int64_t n_rows = (Tk + kQueryTile - 1) / kQueryTile;  // key-row blocks of the sum
#pragma omp parallel
  {
    BackwardScratch w(n, block_size, Dk, Dv);
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t g = 0; g < G; ++g) {
          const int64_t part = (b * H + h) * G + g;
          float* gk = dk ? pk.data() + part * Tk * Dk : nullptr;
          float* gv = dv ? pv.data() + part * Tk * Dv : nullptr;
          if (gk) std::fill(gk, gk + Tk * Dk, 0.f);
          if (gv) std::fill(gv, gv + Tk * Dv, 0.f);
          backward_tiles(w, q, k, v, blocks, o, lse, dout, dq, gk, Dk, gv, Dv, b, h, g * per,
                         std::min(n_qtiles, (g + 1) * per), Tq, Tk, H, Dk, Dv, n, q_offset, scale);
        }
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t rb = 0; rb < n_rows; ++rb)
          for (int64_t u = rb * kQueryTile; u < std::min(Tk, (rb + 1) * kQueryTile); ++u)
            for (int64_t g = 0; g < G; ++g) {
              const int64_t part = (b * H + h) * G + g;
              if (dk)
                axpy(1.f, pk.data() + (part * Tk + u) * Dk, dk + (b * Tk + u) * ldk + h * Dk, Dk);
              if (dv)
                axpy(1.f, pv.data() + (part * Tk + u) * Dv, dv + (b * Tk + u) * ldv + h * Dv, Dv);
            }
  }
}

}  // namespace tinyr2::kernels::cpu
