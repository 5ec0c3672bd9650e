#include "kernels/cpu/nsa_window_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/nsa_tiles.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kR = 4;        // queries per score tile
constexpr int64_t kW = 32;       // keys per full score tile (the row stride of a tile)
constexpr int64_t kNarrow = 16;  // keys of a narrow tile
// Output columns per register tile of rank_update4: the 4-row tiles' pass width of
// nsa_tiles.h, 32 with AVX-512, 16 on AVX2 (whose 16 ymm registers spill 4 × 32 accumulators).
constexpr int64_t kCols = 16 * nsa_tiles::kPassVecs;
constexpr int64_t kQueryTile = 64;  // forward: queries per work item (a multiple of kR)
constexpr int64_t kMinChunk = 64;   // backward: queries per work item, at least the window
constexpr double kParallelWork = 1 << 16;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
static_assert(kR == attention_detail::kRows && kW == attention_detail::kKeyTile,
              "the window tiles share the range kernel's online-softmax step");

int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// dst[j] = src[j] for j < W (kW or kNarrow, multiples of 16), inline (std::copy of a few
// dozen floats is a library call per score row).
inline void copy_scores(const float* src, int64_t W, float* dst) {
  for (int64_t j = 0; j < W; j += 16) nsa_tiles::store16(dst + j, nsa_tiles::load16(src + j));
}

// The key tiles of the 4-query group starting at i0 (a multiple of kR), which sees keys
// [i0 − w + 1, i0 + kR): n_full tiles of kW ending at i0 + kR, newest first, then one of
// `tail` keys (0, kNarrow or kW) before them. lead: how far the tiles reach before i0.
struct Geometry {
  int64_t w, n_full, tail, lead;
  Geometry(int64_t window, int64_t T) {
    w = std::min(window, std::max<int64_t>(T, 1));  // a window past T is causal attention
    const int64_t need = w + kR - 1;
    n_full = need / kW;
    const int64_t rem = need % kW;
    tail = rem == 0 ? 0 : rem <= kNarrow ? kNarrow : kW;
    lead = n_full * kW + tail - kR;
  }
  int64_t tiles() const { return n_full + (tail > 0 ? 1 : 0); }
  int64_t columns() const { return n_full * kW + tail; }  // = nsa_window_score_columns
  int64_t base(int64_t i0, int64_t i) const {
    return i < n_full ? i0 + kR - kW * (i + 1) : i0 - lead;
  }
  int64_t width(int64_t i) const { return i < n_full ? kW : tail; }
};

// The visible keys of the group at i0 (nr real rows) in the tile [tb, tb + W): row r's are
// [ra[r], re[r]) relative to tb (empty for padding rows). Returns their union [ja, jb).
inline void tile_ranges(const Geometry& g, int64_t i0, int64_t nr, int64_t tb, int64_t W,
                        int64_t ra[kR], int64_t re[kR], int64_t& ja, int64_t& jb) {
  ja = W;
  jb = 0;
  for (int64_t r = 0; r < kR; ++r) {
    const int64_t t = i0 + r;
    ra[r] = r < nr ? std::clamp<int64_t>(std::max<int64_t>(t - g.w + 1, 0) - tb, 0, W) : 0;
    re[r] = r < nr ? std::clamp<int64_t>(t + 1 - tb, 0, W) : 0;
    if (ra[r] < re[r]) {
      ja = std::min(ja, ra[r]);
      jb = std::max(jb, re[r]);
    }
  }
}

// Rows [sb, se) of one head (row u at x + u·ldx; rows outside [0, T) read as 0), transposed
// into xt (D × ldt): xt[d·ldt + u − sb]. 16 rows at a time, so that every cache line of xt
// written is written whole.
void transpose_span(const float* x, int64_t ldx, int64_t T, int64_t sb, int64_t se, int64_t D,
                    float* xt, int64_t ldt) {
  const int64_t a = std::max<int64_t>(sb, 0), e = std::min(se, T);
  for (int64_t d = 0; d < D; ++d) {
    float* row = xt + d * ldt;
    std::fill(row, row + (a - sb), 0.f);
    std::fill(row + (e - sb), row + ldt, 0.f);
  }
  for (int64_t u0 = a; u0 < e; u0 += 16) {
    const int64_t n = std::min<int64_t>(16, e - u0);
    const float* xr = x + u0 * ldx;
    float* col = xt + (u0 - sb);
    for (int64_t d = 0; d < D; ++d)
      for (int64_t i = 0; i < n; ++i) col[d * ldt + i] = xr[i * ldx + d];
  }
}

// The inverse, accumulated: rows [a, e) of one head += their columns of xt (sb as above).
void add_transposed_back(const float* xt, int64_t ldt, int64_t sb, int64_t a, int64_t e, int64_t D,
                         float* x, int64_t ldx) {
  for (int64_t u0 = a; u0 < e; u0 += 16) {
    const int64_t n = std::min<int64_t>(16, e - u0);
    float* xr = x + u0 * ldx;
    const float* col = xt + (u0 - sb);
    for (int64_t d = 0; d < D; ++d)
      for (int64_t i = 0; i < n; ++i) xr[i * ldx + d] += col[d * ldt + i];
  }
}

using nsa_tiles::scores4;  // kernels/cpu/nsa_tiles.h

// xt[d·ldt + j] += Σ_r x_r[d] · P[r·kW + j], j < W, all d: the transposed product Xᵀ·P
// accumulated into a span buffer (dKᵀ += Qᵀ·dS, dVᵀ += dOᵀ·P).
template <int64_t W, int64_t kD>
[[gnu::always_inline]] inline void atb4(const float* const x[kR], const float* P, int64_t D_rt,
                                        float* xt, int64_t ldt) {
  const int64_t D = kD > 0 ? kD : D_rt;
  float p0[W], p1[W], p2[W], p3[W];
  for (int64_t j = 0; j < W; ++j) {
    p0[j] = P[j];
    p1[j] = P[kW + j];
    p2[j] = P[2 * kW + j];
    p3[j] = P[3 * kW + j];
  }
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  for (int64_t d = 0; d < D; ++d) {
    const float c0 = x0[d], c1 = x1[d], c2 = x2[d], c3 = x3[d];
    float* row = xt + d * ldt;
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) row[j] += c0 * p0[j] + c1 * p1[j] + c2 * p2[j] + c3 * p3[j];
  }
}

// acc_r[c] += Σ_{i<n} P[r·kW + i] · x[i·ldx + c] for 4 rows r (acc: 4 × D, row-major), in
// register tiles of 4 rows × kCols columns.
template <int64_t kD>
[[gnu::always_inline]] inline void rank_update4(const float* P, const float* x, int64_t ldx,
                                                int64_t n, int64_t D_rt, float* acc) {
  const int64_t D = kD > 0 ? kD : D_rt;
  for (int64_t c0 = 0; c0 < D; c0 += kCols) {
    float *y0 = acc + c0, *y1 = acc + D + c0, *y2 = acc + 2 * D + c0, *y3 = acc + 3 * D + c0;
    float a0[kCols], a1[kCols], a2[kCols], a3[kCols];
    auto run = [&](int64_t w) __attribute__((always_inline)) {
      for (int64_t c = 0; c < w; ++c) {
        a0[c] = y0[c];
        a1[c] = y1[c];
        a2[c] = y2[c];
        a3[c] = y3[c];
      }
      for (int64_t i = 0; i < n; ++i) {
        const float p0 = P[i], p1 = P[kW + i], p2 = P[2 * kW + i], p3 = P[3 * kW + i];
        const float* xr = x + i * ldx + c0;
#pragma omp simd
        for (int64_t c = 0; c < w; ++c) {
          a0[c] += p0 * xr[c];
          a1[c] += p1 * xr[c];
          a2[c] += p2 * xr[c];
          a3[c] += p3 * xr[c];
        }
      }
      for (int64_t c = 0; c < w; ++c) {
        y0[c] = a0[c];
        y1[c] = a1[c];
        y2[c] = a2[c];
        y3[c] = a3[c];
      }
    };
    if (D - c0 >= kCols)
      run(kCols);
    else
      run(D - c0);
  }
}

// P ← exp(S − lse) and dS ← scale·P·(dP − delta) for 4 rows over W keys, exactly 0 outside
// each row's keys [ra, re) (S in p, dP in ds on entry).
template <int64_t W>
inline void probs_and_dscores(float* p, float* ds, const int64_t ra[kR], const int64_t re[kR],
                              const float lse[kR], const float delta[kR], float scale) {
  for (int64_t r = 0; r < kR; ++r) {
    float *pr = p + r * kW, *dr = ds + r * kW;
    const int64_t a = ra[r], e = re[r];
    const float lr = a < e ? lse[r] : 0.f, dl = a < e ? delta[r] : 0.f;
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) {
      const bool in = j >= a && j < e;
      const float x = fast_exp(pr[j] - lr);
      pr[j] = in ? x : 0.f;
      dr[j] = in ? scale * x * (dr[j] - dl) : 0.f;
    }
  }
}

template <int64_t kDk, int64_t kDv>
void forward_impl(const float* q, const float* k, const float* v, float* o, float* lse,
                  float* scores, int64_t B, int64_t T, int64_t H, int64_t Dk_rt, int64_t Dv_rt,
                  int64_t window, float scale) {
  const int64_t Dk = kDk > 0 ? kDk : Dk_rt, Dv = kDv > 0 ? kDv : Dv_rt;
  const Geometry g(window, T);
  const int64_t L = g.columns();
  const int64_t ldk = H * Dk, ldv = H * Dv;
  const int64_t n_items = (T + kQueryTile - 1) / kQueryTile;
  const int64_t ldt = round_up(kQueryTile + g.lead, 16);
  const double work = double(B * H * T) * double(g.w) * double(Dk + Dv);
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<float> kt(static_cast<size_t>(Dk * ldt)), s(kR * kW),
        acc(static_cast<size_t>(kR * Dv));
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t it = 0; it < n_items; ++it) {
          const int64_t t0 = it * kQueryTile, t1 = std::min(T, t0 + kQueryTile);
          const int64_t sb = t0 - g.lead;
          const float* kbh = k + b * T * ldk + h * Dk;  // key u at kbh + u·ldk
          const float* vbh = v + b * T * ldv + h * Dv;
          transpose_span(kbh, ldk, T, sb, round_up(t1, kR), Dk, kt.data(), ldt);
          for (int64_t i0 = t0; i0 < t1; i0 += kR) {
            const int64_t nr = std::min(kR, t1 - i0);
            const float* x[kR];
            for (int64_t r = 0; r < kR; ++r)
              x[r] = q + ((b * T + i0 + std::min(r, nr - 1)) * H + h) * Dk;
            float m[kR] = {kNegInf, kNegInf, kNegInf, kNegInf}, l[kR] = {}, alpha[kR];
            std::fill(acc.begin(), acc.end(), 0.f);
            for (int64_t ti = 0; ti < g.tiles(); ++ti) {
              const int64_t tb = g.base(i0, ti), W = g.width(ti);
              if (tb + W <= 0) break;  // this tile and the older ones lie before key 0
              int64_t ra[kR], re[kR], ja, jb;
              tile_ranges(g, i0, nr, tb, W, ra, re, ja, jb);
              if (ja >= jb) continue;
              const float* kcol = kt.data() + (tb - sb);
              if (W == kW)
                scores4<kW, kDk>(x, kcol, ldt, Dk, scale, s.data());
              else
                scores4<kNarrow, kDk>(x, kcol, ldt, Dk, scale, s.data());
              if (scores)  // kept for the backward, before the softmax overwrites them
                for (int64_t r = 0; r < nr; ++r)
                  copy_scores(s.data() + r * kW, W,
                              scores + ((b * T + i0 + r) * H + h) * L + ti * kW);
              if (W == kW) {
                attention_detail::online_softmax_step<kW>(s.data(), ra, re, m, l, alpha);
              } else {
                attention_detail::online_softmax_step<kNarrow>(s.data(), ra, re, m, l, alpha);
              }
              for (int64_t r = 0; r < kR; ++r)
                if (alpha[r] != 1.f)
                  for (int64_t c = 0; c < Dv; ++c) acc[r * Dv + c] *= alpha[r];
              rank_update4<kDv>(s.data() + ja, vbh + (tb + ja) * ldv, ldv, jb - ja, Dv, acc.data());
            }
            for (int64_t r = 0; r < nr; ++r) {
              const int64_t row = (b * T + i0 + r) * H + h;
              const float inv = 1.f / l[r];  // l ≥ 1: the query's own key is visible
              float* orow = o + row * Dv;
              for (int64_t c = 0; c < Dv; ++c) orow[c] = acc[r * Dv + c] * inv;
              if (lse) lse[row] = m[r] + std::log(l[r]);
            }
          }
        }
  }
}

template <int64_t kDk, int64_t kDv>
void backward_impl(const float* q, const float* k, const float* v, const float* o, const float* lse,
                   const float* scores, const float* dout, float* dq, float* dk, float* dv,
                   int64_t B, int64_t T, int64_t H, int64_t Dk_rt, int64_t Dv_rt, int64_t window,
                   float scale) {
  const int64_t Dk = kDk > 0 ? kDk : Dk_rt, Dv = kDv > 0 ? kDv : Dv_rt;
  const Geometry g(window, T);
  const int64_t L = g.columns();
  const int64_t ldk = H * Dk, ldv = H * Dv;
  // Chunk c's queries see keys [c·C − w + 1, (c+1)·C), which meet chunk c + 2's only if
  // C < w: with C ≥ w, chunks of one parity touch disjoint dk, dv rows.
  const int64_t C = round_up(std::max(g.w, kMinChunk), kR);
  const int64_t n_chunks = (T + C - 1) / C;
  const int64_t ldt = round_up(C + g.lead, 16);
  const double work = double(B * H * T) * double(g.w) * double(Dk + Dv);
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<float> kt(static_cast<size_t>(Dk * ldt)), vt(static_cast<size_t>(Dv * ldt)),
        dkt(dk ? static_cast<size_t>(Dk * ldt) : 0), dvt(dv ? static_cast<size_t>(Dv * ldt) : 0),
        S(kR * kW), dS(kR * kW), gacc(static_cast<size_t>(kR * Dk));
    for (int64_t parity = 0; parity < 2; ++parity) {
      const int64_t n_par = (n_chunks - parity + 1) / 2;
#pragma omp for collapse(3) schedule(dynamic)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t ci = 0; ci < n_par; ++ci) {
            const int64_t c0 = (2 * ci + parity) * C, c1 = std::min(T, c0 + C);
            const int64_t sb = c0 - g.lead, se = round_up(c1, kR);
            const float* kbh = k + b * T * ldk + h * Dk;  // key u at kbh + u·ldk
            const float* vbh = v + b * T * ldv + h * Dv;
            transpose_span(kbh, ldk, T, sb, se, Dk, kt.data(), ldt);
            transpose_span(vbh, ldv, T, sb, se, Dv, vt.data(), ldt);
            if (dk) std::fill(dkt.begin(), dkt.end(), 0.f);
            if (dv) std::fill(dvt.begin(), dvt.end(), 0.f);
            for (int64_t i0 = c0; i0 < c1; i0 += kR) {
              const int64_t nr = std::min(kR, c1 - i0);
              const float *x[kR], *y[kR];
              float lse_r[kR], delta[kR];
              for (int64_t r = 0; r < kR; ++r) {
                const int64_t row = (b * T + i0 + std::min(r, nr - 1)) * H + h;
                x[r] = q + row * Dk;
                y[r] = dout + row * Dv;
                const float* orow = o + row * Dv;
                float acc = 0.f;  // D_t = dO_t · o_t
#pragma omp simd reduction(+ : acc)
                for (int64_t c = 0; c < Dv; ++c) acc += y[r][c] * orow[c];
                delta[r] = acc;
                lse_r[r] = lse[row];
              }
              if (dq) std::fill(gacc.begin(), gacc.end(), 0.f);
              for (int64_t ti = 0; ti < g.tiles(); ++ti) {
                const int64_t tb = g.base(i0, ti), W = g.width(ti);
                if (tb + W <= 0) break;
                int64_t ra[kR], re[kR], ja, jb;
                tile_ranges(g, i0, nr, tb, W, ra, re, ja, jb);
                if (ja >= jb) continue;
                const int64_t col = tb - sb;
                if (scores)  // the forward's S (padding rows: 0, masked out below)
                  for (int64_t r = 0; r < kR; ++r) {
                    float* sr = S.data() + r * kW;
                    if (r < nr) {
                      const float* src = scores + ((b * T + i0 + r) * H + h) * L + ti * kW;
                      copy_scores(src, W, sr);
                    } else {
                      for (int64_t j = 0; j < W; j += 16)
                        nsa_tiles::store16(sr + j, nsa_tiles::Vec16{});
                    }
                  }
                else if (W == kW)
                  scores4<kW, kDk>(x, kt.data() + col, ldt, Dk, scale, S.data());
                else
                  scores4<kNarrow, kDk>(x, kt.data() + col, ldt, Dk, scale, S.data());
                if (W == kW) {
                  scores4<kW, kDv>(y, vt.data() + col, ldt, Dv, 1.f, dS.data());
                  probs_and_dscores<kW>(S.data(), dS.data(), ra, re, lse_r, delta, scale);
                  if (dk) atb4<kW, kDk>(x, dS.data(), Dk, dkt.data() + col, ldt);
                  if (dv) atb4<kW, kDv>(y, S.data(), Dv, dvt.data() + col, ldt);
                } else {
                  scores4<kNarrow, kDv>(y, vt.data() + col, ldt, Dv, 1.f, dS.data());
                  probs_and_dscores<kNarrow>(S.data(), dS.data(), ra, re, lse_r, delta, scale);
                  if (dk) atb4<kNarrow, kDk>(x, dS.data(), Dk, dkt.data() + col, ldt);
                  if (dv) atb4<kNarrow, kDv>(y, S.data(), Dv, dvt.data() + col, ldt);
                }
                if (dq)  // dq_r += Σ_j scale·dS_rj k_j
                  rank_update4<kDk>(dS.data() + ja, kbh + (tb + ja) * ldk, ldk, jb - ja, Dk,
                                    gacc.data());
              }
              if (dq)
                for (int64_t r = 0; r < nr; ++r) {
                  float* g_row = dq + ((b * T + i0 + r) * H + h) * Dk;
                  const float* a = gacc.data() + r * Dk;
#pragma omp simd
                  for (int64_t c = 0; c < Dk; ++c) g_row[c] += a[c];
                }
            }
            // The keys this chunk's queries see, back from the span layout.
            const int64_t ka = std::max<int64_t>(c0 - g.w + 1, 0);
            if (dk)
              add_transposed_back(dkt.data(), ldt, sb, ka, c1, Dk, dk + b * T * ldk + h * Dk, ldk);
            if (dv)
              add_transposed_back(dvt.data(), ldt, sb, ka, c1, Dv, dv + b * T * ldv + h * Dv, ldv);
          }
    }
  }
}

}  // namespace

void window_attention_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                              float* scores, int64_t B, int64_t T, int64_t H, int64_t Dk,
                              int64_t Dv, int64_t window, float scale) {
  if (B * T * H == 0) return;
  if (Dk == 96 && Dv == 32)
    forward_impl<96, 32>(q, k, v, o, lse, scores, B, T, H, Dk, Dv, window, scale);
  else
    forward_impl<0, 0>(q, k, v, o, lse, scores, B, T, H, Dk, Dv, window, scale);
}

void window_attention_backward(const float* q, const float* k, const float* v, const float* o,
                               const float* lse, const float* scores, const float* dout, float* dq,
                               float* dk, float* dv, int64_t B, int64_t T, int64_t H, int64_t Dk,
                               int64_t Dv, int64_t window, float scale) {
  if ((!dq && !dk && !dv) || B * T * H == 0) return;
  if (Dk == 96 && Dv == 32)
    backward_impl<96, 32>(q, k, v, o, lse, scores, dout, dq, dk, dv, B, T, H, Dk, Dv, window,
                          scale);
  else
    backward_impl<0, 0>(q, k, v, o, lse, scores, dout, dq, dk, dv, B, T, H, Dk, Dv, window, scale);
}

}  // namespace tinyr2::kernels::cpu
