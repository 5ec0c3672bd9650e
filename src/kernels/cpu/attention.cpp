#include "kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

using namespace attention_detail;

constexpr int64_t kQueryTile = 64;  // queries per forward / dQ work item, dK/dV buffer rows
constexpr double kParallelWork = 1 << 16;
constexpr int64_t kHeadsPerThread =
    2;  // (b, h) items per thread from which the backward runs in one pass

// The 4-row query block at i0 (nr real rows) against the key tile [j0, j0 + nk): row r's
// keys in it are [ra[r], re[r]) relative to j0 (empty for padding rows r ≥ nr). Returns
// their union [ja, jb); ja ≥ jb when no row sees this tile.
std::pair<int64_t, int64_t> block_ranges(const int32_t* lo, const int32_t* hi, int64_t i0,
                                         int64_t nr, int64_t j0, int64_t nk, int64_t ra[kRows],
                                         int64_t re[kRows]) {
  int64_t ja = kKeyTile, jb = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    ra[r] = r < nr ? std::max<int64_t>(lo[i0 + r], j0) - j0 : 0;
    re[r] = r < nr ? std::min<int64_t>(hi[i0 + r], j0 + nk) - j0 : 0;
    if (ra[r] < re[r]) {
      ja = std::min(ja, ra[r]);
      jb = std::max(jb, re[r]);
    }
  }
  return {ja, jb};
}

double visible_work(int64_t Tq, const int32_t* lo, const int32_t* hi) {
  double n = 0;
  for (int64_t t = 0; t < Tq; ++t) n += std::max(0, hi[t] - lo[t]);
  return n;
}

}  // namespace

// Forward: one work item per (b, h, tile of kQueryTile queries); items write disjoint rows
// of o and lse. Within an item, key tiles of the union of the queries' ranges are visited
// once each (transposed once, reused by all the item's queries), 4 queries at a time.
void range_attention_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                             int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                             float scale, const int32_t* lo, const int32_t* hi) {
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const int64_t n_qtiles = (Tq + kQueryTile - 1) / kQueryTile;
  const double work = double(B * H) * visible_work(Tq, lo, hi) * double(Dk + Dv);
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<float> kt(Dk * kKeyTile), s(kRows * kKeyTile), m(kQueryTile), l(kQueryTile),
        scratch(Dv);  // the output row of padding queries in a 4-row block
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t qt = 0; qt < n_qtiles; ++qt) {
          const int64_t t0 = qt * kQueryTile, t1 = std::min(Tq, t0 + kQueryTile);
          const float* kbh = k + b * Tk * ldk + h * Dk;  // key j at kbh + j·ldk
          const float* vbh = v + b * Tk * ldv + h * Dv;
          auto qrow = [&](int64_t t) { return q + ((b * Tq + t) * H + h) * Dk; };
          auto orow = [&](int64_t t) { return o + ((b * Tq + t) * H + h) * Dv; };

          int64_t jlo = Tk, jhi = 0;  // union of the non-empty ranges of the tile
          for (int64_t t = t0; t < t1; ++t) {
            std::fill(orow(t), orow(t) + Dv, 0.f);
            m[t - t0] = kNegInf;
            l[t - t0] = 0.f;
            if (lo[t] < hi[t]) {
              jlo = std::min<int64_t>(jlo, lo[t]);
              jhi = std::max<int64_t>(jhi, hi[t]);
            }
          }
          for (int64_t j0 = jlo; j0 < jhi; j0 += kKeyTile) {
            const int64_t nk = std::min(kKeyTile, jhi - j0);
            transpose_tile(kbh + j0 * ldk, ldk, nk, Dk, kt.data());
            for (int64_t i0 = t0; i0 < t1; i0 += kRows) {
              const int64_t nr = std::min(kRows, t1 - i0);
              int64_t ra[kRows], re[kRows];
              const auto [ja, jb] = block_ranges(lo, hi, i0, nr, j0, nk, ra, re);
              if (ja >= jb) continue;
              const float* x[kRows];
              float* y[kRows];
              for (int64_t r = 0; r < kRows; ++r) {
                x[r] = qrow(i0 + std::min(r, nr - 1));
                y[r] = r < nr ? orow(i0 + r) : scratch.data();
              }
              float alpha[kRows];
              block_scores(x, kt.data(), Dk, scale, s.data());
              online_softmax_step(s.data(), ra, re, m.data() + (i0 - t0), l.data() + (i0 - t0),
                                  alpha);
              block_pv(s.data(), vbh + j0 * ldv, ldv, ja, jb, Dv, y, alpha);
            }
          }
          for (int64_t t = t0; t < t1; ++t) {
            const float li = l[t - t0];
            if (li > 0.f) {
              const float inv = 1.f / li;
              float* ot = orow(t);
              for (int64_t c = 0; c < Dv; ++c) ot[c] *= inv;
            }
            if (lse) lse[(b * Tq + t) * H + h] = li > 0.f ? m[t - t0] + std::log(li) : kNegInf;
          }
        }
  }
}

// Backward, flash-attention 2 style: D_t = dO_t·o_t for every (b, t, h) first, then one of
// two partitions of the same arithmetic:
//  - one pass, one work item per (b, h), which owns dq[b,:,h,:], dk[b,:,h,:] and
//    dv[b,:,h,:] outright; S and dP are computed once per (query, key) pair (5 products of
//    the forward's size). Used when there are ≥ kHeadsPerThread (b, h) pairs per thread
//    (training: B·H = 32 at the default config) or the call runs serially.
//  - the split, when (b, h) pairs are too few for the threads (the B = 1 layer benchmarks,
//    long sequences at 16 threads): a dK/dV pass with one item per (b, h, key tile of
//    kKeyTile keys), which owns those rows of dk and dv, then a dQ pass with one item per
//    (b, h, tile of kQueryTile queries), which owns those rows of dq. The dQ pass
//    recomputes S and dP (7 products instead of 5) in exchange for B·H·Tk/kKeyTile and
//    B·H·Tq/kQueryTile items instead of B·H (SPEC §16).
// Both visit the key tiles on one grid (from the first visible key, kKeyTile apart) and the
// queries in the same 4-row blocks, and add every term in the same order, so they give the
// same bits: the choice (which depends on the thread count) never changes a result. No
// races, no atomics. A key tile (key_tile below): the queries that see it are taken 4 at a
// time (S, dP, then P and dS — and, in one pass, dQ += dS·K in place), their P and dS rows
// buffered for up to kQueryTile queries, and then dV += Pᵀ·dO and dK += dSᵀ·Q accumulated
// into tile-local buffers in one register-tiled pass. A dQ item visits the grid's key tiles
// that meet the union of its queries' ranges and adds dS·K into its rows.
namespace {

// Per-thread buffers of the key-tile work: transposed K and V tiles, the tile's dK and dV,
// up to kQueryTile buffered rows of P, dS and their q and dO rows, a padding dq row.
struct KeyTileWork {
  std::vector<float> kt, vt, dkt, dvt, P, dS, Xb, Yb, scratch;
  KeyTileWork(int64_t Dk, int64_t Dv)
      : kt(Dk * kKeyTile),
        vt(Dv * kKeyTile),
        dkt(kKeyTile * Dk),
        dvt(kKeyTile * Dv),
        P(kQueryTile * kKeyTile),
        dS(kQueryTile * kKeyTile),
        Xb(kQueryTile * Dk),
        Yb(kQueryTile * Dv),
        scratch(Dk) {}
};

// The shared P / dS block of both passes: for 4 query rows (x their q rows, y their dO
// rows) against a transposed key tile kt and value tile vt, Pb ← P and dSb ← scale·dS,
// both exactly 0 outside each row's range [ra[r], re[r]) (and for rows without keys here).
// lse_row(r) and delta_row(r) give row r's saved log-sum-exp and D_t.
template <typename Lse, typename Delta>
void block_p_ds(const float* const x[kRows], const float* const y[kRows], const float* kt,
                const float* vt, int64_t Dk, int64_t Dv, float scale, const int64_t ra[kRows],
                const int64_t re[kRows], Lse lse_row, Delta delta_row, float* Pb, float* dSb) {
  block_scores(x, kt, Dk, scale, Pb);  // S
  block_scores(y, vt, Dv, 1.f, dSb);   // dP = dO·Vᵀ
  for (int64_t r = 0; r < kRows; ++r) {
    float *pr = Pb + r * kKeyTile, *dr = dSb + r * kKeyTile;
    const int64_t a = ra[r], e = re[r];
    const float lse_t = a < e ? lse_row(r) : 0.f;
    const float delta_t = a < e ? delta_row(r) : 0.f;
#pragma omp simd
    for (int64_t j = 0; j < kKeyTile; ++j) {
      const bool in = j >= a && j < e;
      const float p = fast_exp(pr[j] - lse_t);
      pr[j] = in ? p : 0.f;
      dr[j] = in ? scale * p * (dr[j] - delta_t) : 0.f;
    }
  }
}

}  // namespace

void range_attention_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* lse, const float* dout, float* dq, float* dk, float* dv,
                              int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
                              float scale, const int32_t* lo, const int32_t* hi) {
  if (!dq && !dk && !dv) return;
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const double work = double(B * H) * visible_work(Tq, lo, hi) * double(Dk + Dv);
  const bool par = work > kParallelWork;
  int64_t jlo = Tk, jhi = 0;  // union of the non-empty ranges
  for (int64_t t = 0; t < Tq; ++t)
    if (lo[t] < hi[t]) {
      jlo = std::min<int64_t>(jlo, lo[t]);
      jhi = std::max<int64_t>(jhi, hi[t]);
    }
  if (jlo >= jhi) return;  // no query sees a key: no gradient

  // D (B, Tq, H): D_t = dO_t · o_t.
  std::vector<float> delta(static_cast<size_t>(B * Tq * H));
#pragma omp parallel for schedule(static) if (par)
  for (int64_t bt = 0; bt < B * Tq; ++bt)
    for (int64_t h = 0; h < H; ++h) {
      const float *g = dout + (bt * H + h) * Dv, *ot = o + (bt * H + h) * Dv;
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int64_t c = 0; c < Dv; ++c) acc += g[c] * ot[c];
      delta[static_cast<size_t>(bt * H + h)] = acc;
    }

  auto qrow = [&](int64_t b, int64_t h, int64_t t) { return q + ((b * Tq + t) * H + h) * Dk; };
  auto dorow = [&](int64_t b, int64_t h, int64_t t) { return dout + ((b * Tq + t) * H + h) * Dv; };

  const int64_t n_ktiles = (jhi - jlo + kKeyTile - 1) / kKeyTile;
  // One key tile of head (b, h): dk, dv rows of the tile (+=), and dq (+=) of every query
  // that sees it when dq_here is not null (the one-pass partition).
  auto key_tile = [&](KeyTileWork& w, int64_t b, int64_t h, int64_t kt_i, float* dq_here) {
    const int64_t j0 = jlo + kt_i * kKeyTile, nk = std::min(kKeyTile, jhi - j0);
    const float* kj = k + (b * Tk + j0) * ldk + h * Dk;  // key j0 + j at kj + j·ldk
    transpose_tile(kj, ldk, nk, Dk, w.kt.data());
    transpose_tile(v + (b * Tk + j0) * ldv + h * Dv, ldv, nk, Dv, w.vt.data());
    std::fill(w.dkt.begin(), w.dkt.end(), 0.f);
    std::fill(w.dvt.begin(), w.dvt.end(), 0.f);
    int64_t nb = 0, bja = kKeyTile, bjb = 0;  // buffered rows, their key union
    for (int64_t i0 = 0; i0 < Tq; i0 += kRows) {
      const int64_t nr = std::min(kRows, Tq - i0);
      int64_t ra[kRows], re[kRows];
      const auto [ja, jb] = block_ranges(lo, hi, i0, nr, j0, nk, ra, re);
      if (ja < jb) {
        const float *x[kRows], *y[kRows];  // copies of the rows, contiguous for block_atb
        for (int64_t r = 0; r < kRows; ++r) {
          float* xb = w.Xb.data() + (nb + r) * Dk;
          float* yb = w.Yb.data() + (nb + r) * Dv;
          const float* qr = qrow(b, h, i0 + std::min(r, nr - 1));
          const float* gr = dorow(b, h, i0 + std::min(r, nr - 1));
          std::copy(qr, qr + Dk, xb);
          std::copy(gr, gr + Dv, yb);
          x[r] = xb;
          y[r] = yb;
        }
        float* Pb = w.P.data() + nb * kKeyTile;
        float* dSb = w.dS.data() + nb * kKeyTile;
        block_p_ds(
            x, y, w.kt.data(), w.vt.data(), Dk, Dv, scale, ra, re,
            [&](int64_t r) { return lse[(b * Tq + i0 + r) * H + h]; },
            [&](int64_t r) { return delta[static_cast<size_t>((b * Tq + i0 + r) * H + h)]; }, Pb,
            dSb);
        if (dq_here) {  // dq_r += Σ_j scale·dS_rj k_j
          float* g[kRows];
          for (int64_t r = 0; r < kRows; ++r)
            g[r] = r < nr ? dq_here + ((b * Tq + i0 + r) * H + h) * Dk : w.scratch.data();
          block_pv(dSb, kj, ldk, ja, jb, Dk, g, kOnes);
        }
        nb += kRows;
        bja = std::min(bja, ja);
        bjb = std::max(bjb, jb);
      }
      if (nb > 0 && (nb == kQueryTile || i0 + kRows >= Tq)) {  // flush the buffer
        if (dv) block_atb(w.P.data(), w.Yb.data(), nb, bja, bjb, Dv, w.dvt.data());
        if (dk) block_atb(w.dS.data(), w.Xb.data(), nb, bja, bjb, Dk, w.dkt.data());
        nb = 0;
        bja = kKeyTile;
        bjb = 0;
      }
    }
    for (int64_t j = 0; j < nk; ++j) {
      if (dk) axpy(1.f, w.dkt.data() + j * Dk, dk + (b * Tk + j0 + j) * ldk + h * Dk, Dk);
      if (dv) axpy(1.f, w.dvt.data() + j * Dv, dv + (b * Tk + j0 + j) * ldv + h * Dv, Dv);
    }
  };

  if (!par || B * H >= kHeadsPerThread * omp_get_max_threads()) {  // one pass: items (b, h)
#pragma omp parallel if (par)
    {
      KeyTileWork w(Dk, Dv);
#pragma omp for collapse(2) schedule(static)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t kt_i = 0; kt_i < n_ktiles; ++kt_i) key_tile(w, b, h, kt_i, dq);
    }
    return;
  }

  if (dk || dv) {  // the dK/dV pass: items (b, h, key tile)
#pragma omp parallel if (par)
    {
      KeyTileWork w(Dk, Dv);
#pragma omp for collapse(3) schedule(dynamic)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t kt_i = 0; kt_i < n_ktiles; ++kt_i) key_tile(w, b, h, kt_i, nullptr);
    }
  }

  if (dq) {  // the dQ pass: items (b, h, query tile)
    const int64_t n_qtiles = (Tq + kQueryTile - 1) / kQueryTile;
#pragma omp parallel if (par)
    {
      std::vector<float> kt(Dk * kKeyTile), vt(Dv * kKeyTile), P(kRows * kKeyTile),
          dS(kRows * kKeyTile), scratch(Dk);  // the dq row of padding queries in a 4-row block
#pragma omp for collapse(3) schedule(dynamic)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t qt = 0; qt < n_qtiles; ++qt) {
            const int64_t t0 = qt * kQueryTile, t1 = std::min(Tq, t0 + kQueryTile);
            int64_t qlo = Tk, qhi = 0;  // union of the non-empty ranges of the tile
            for (int64_t t = t0; t < t1; ++t)
              if (lo[t] < hi[t]) {
                qlo = std::min<int64_t>(qlo, lo[t]);
                qhi = std::max<int64_t>(qhi, hi[t]);
              }
            // The key tiles of the shared grid that meet [qlo, qhi).
            for (int64_t j0 = qlo < qhi ? jlo + (qlo - jlo) / kKeyTile * kKeyTile : qhi; j0 < qhi;
                 j0 += kKeyTile) {
              const int64_t nk = std::min(kKeyTile, jhi - j0);
              const float* kj = k + (b * Tk + j0) * ldk + h * Dk;  // key j0 + j at kj + j·ldk
              transpose_tile(kj, ldk, nk, Dk, kt.data());
              transpose_tile(v + (b * Tk + j0) * ldv + h * Dv, ldv, nk, Dv, vt.data());
              for (int64_t i0 = t0; i0 < t1; i0 += kRows) {
                const int64_t nr = std::min(kRows, t1 - i0);
                int64_t ra[kRows], re[kRows];
                const auto [ja, jb] = block_ranges(lo, hi, i0, nr, j0, nk, ra, re);
                if (ja >= jb) continue;
                const float *x[kRows], *y[kRows];
                float* g[kRows];
                for (int64_t r = 0; r < kRows; ++r) {
                  x[r] = qrow(b, h, i0 + std::min(r, nr - 1));
                  y[r] = dorow(b, h, i0 + std::min(r, nr - 1));
                  g[r] = r < nr ? dq + ((b * Tq + i0 + r) * H + h) * Dk : scratch.data();
                }
                block_p_ds(
                    x, y, kt.data(), vt.data(), Dk, Dv, scale, ra, re,
                    [&](int64_t r) { return lse[(b * Tq + i0 + r) * H + h]; },
                    [&](int64_t r) {
                      return delta[static_cast<size_t>((b * Tq + i0 + r) * H + h)];
                    },
                    P.data(), dS.data());
                block_pv(dS.data(), kj, ldk, ja, jb, Dk, g, kOnes);  // dq_r += Σ_j scale·dS_rj k_j
              }
            }
          }
    }
  }
}

}  // namespace tinyr2::kernels::cpu
