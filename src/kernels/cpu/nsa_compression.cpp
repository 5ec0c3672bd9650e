#include "kernels/cpu/nsa_compression.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

using namespace attention_detail;
using namespace nsa_select_detail;

constexpr int64_t kCompressRows = 32;  // queries per work item (a multiple of kRows)

}  // namespace

void nsa_compression_forward(const float* q, const float* k, const float* v, float* o, float* lse,
                             int32_t* blocks, int64_t B, int64_t T, int64_t nb, int64_t H,
                             int64_t Dk, int64_t Dv, float scale, const NsaSelectParams& p,
                             int64_t q_pos0) {
  const int64_t ldk = H * Dk, ldv = H * Dv, ls = p.select_block_size, n = p.num_blocks;
  const int64_t n_tiles = (T + kCompressRows - 1) / kCompressRows;
  const OverlapTable table(blocks ? nb : 0, p);
  const double work = double(B * T * H) * double(nb) * double(Dk + Dv) / 2;
#pragma omp parallel if (work > (1 << 16))
  {
    // Per item: the raw scores of one head (rows × visible blocks), the head sums of p, the
    // selection scores (rows × candidate blocks).
    std::vector<float> kt(Dk * kKeyTile), s(kRows * kKeyTile), m(kCompressRows), l(kCompressRows),
        scratch(Dv), S, psum, sc;
    std::vector<char> chosen;
    std::vector<int32_t> rest;
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t it = 0; it < n_tiles; ++it) {
        const int64_t t0 = (n_tiles - 1 - it) * kCompressRows;  // largest items first
        const int64_t nr = std::min(kCompressRows, T - t0);
        int64_t vis[kCompressRows];
        for (int64_t r = 0; r < nr; ++r) vis[r] = nsa_visible_blocks(q_pos0 + t0 + r, nb, p);
        const int64_t vmax = vis[nr - 1];  // visibility grows with the position
        if (blocks) {
          S.resize(static_cast<size_t>(nr * vmax));
          psum.assign(static_cast<size_t>(nr * vmax), 0.f);
        }
        for (int64_t h = 0; h < H; ++h) {
          auto qrow = [&](int64_t r) { return q + ((b * T + t0 + r) * H + h) * Dk; };
          auto orow = [&](int64_t r) { return o + ((b * T + t0 + r) * H + h) * Dv; };
          if (o)
            for (int64_t r = 0; r < nr; ++r) std::fill(orow(r), orow(r) + Dv, 0.f);
          std::fill(m.begin(), m.end(), kNegInf);
          std::fill(l.begin(), l.end(), 0.f);
          for (int64_t i0 = 0; i0 < vmax; i0 += kKeyTile) {
            const int64_t nk = std::min(kKeyTile, vmax - i0);
            transpose_tile(k + (b * nb + i0) * ldk + h * Dk, ldk, nk, Dk, kt.data());
            for (int64_t r0 = 0; r0 < nr; r0 += kRows) {
              const int64_t rn = std::min(kRows, nr - r0);
              if (vis[r0 + rn - 1] <= i0) continue;  // no row of the group sees this tile
              const float* x[kRows];
              float* y[kRows];
              int64_t e[kRows];
              for (int64_t i = 0; i < kRows; ++i) {
                x[i] = qrow(r0 + std::min(i, rn - 1));
                y[i] = o && i < rn ? orow(r0 + i) : scratch.data();
                e[i] = i < rn ? std::min(vis[r0 + i] - i0, nk) : 0;
              }
              block_scores(x, kt.data(), Dk, scale, s.data());
              if (blocks)
                for (int64_t i = 0; i < rn; ++i)
                  if (e[i] > 0)
                    std::copy(s.data() + i * kKeyTile, s.data() + i * kKeyTile + e[i],
                              S.data() + (r0 + i) * vmax + i0);
              float alpha[kRows];
              constexpr int64_t from_first[kRows] = {0, 0, 0, 0};  // keys: the prefix [0, e)
              online_softmax_step(s.data(), from_first, e, m.data() + r0, l.data() + r0, alpha);
              if (o) {
                const int64_t jb = *std::max_element(e, e + kRows);
                block_pv(s.data(), v + (b * nb + i0) * ldv + h * Dv, ldv, 0, jb, Dv, y, alpha);
              }
            }
          }
          for (int64_t r = 0; r < nr; ++r) {
            const float lr = l[r];
            const float lse_r = lr > 0.f ? m[r] + std::log(lr) : kNegInf;
            if (o && lr > 0.f) {
              const float inv = 1.f / lr;
              float* ot = orow(r);
              for (int64_t c = 0; c < Dv; ++c) ot[c] *= inv;
            }
            if (lse) lse[(b * T + t0 + r) * H + h] = lse_r;
            if (blocks && vis[r] > 0) {  // p_h[i] = exp(s_i − lse) into the head sum
              const float* sr = S.data() + r * vmax;
              float* pr = psum.data() + r * vmax;
              const int64_t vr = vis[r];
#pragma omp simd
              for (int64_t i = 0; i < vr; ++i) pr[i] += fast_exp(sr[i] - lse_r);
            }
          }
        }
        if (!blocks) continue;
        const int64_t J = (q_pos0 + t0 + nr - 1) / ls + 1;  // candidates of the last query
        sc.assign(static_cast<size_t>(nr * J), 0.f);
        for (int64_t r = 0; r < nr; ++r) {
          table.spread(psum.data() + r * vmax, 0, vis[r], sc.data() + r * J);
          choose_blocks(sc.data() + r * J, (q_pos0 + t0 + r) / ls + 1, p, chosen, rest,
                        blocks + (b * T + t0 + r) * n);
        }
      }
  }
}

void nsa_compression_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* lse, const float* dout, float* dq, float* dk, float* dv,
                              int64_t B, int64_t T, int64_t nb, int64_t H, int64_t Dk, int64_t Dv,
                              float scale, const NsaSelectParams& p, int64_t q_pos0) {
  if ((!dq && !dk && !dv) || nb == 0 || B * T * H == 0) return;
  std::vector<int32_t> lo(static_cast<size_t>(T), 0), hi(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    hi[t] = static_cast<int32_t>(nsa_visible_blocks(q_pos0 + t, nb, p));
  const double work = double(B * T * H) * double(nb) * double(Dk + Dv) / 2;
  const int64_t threads = work > (1 << 16) ? omp_get_max_threads() : 1, BH = B * H;
  // A part runs every head of its batch row (on one thread), so a batch row gets
  // ⌈threads / B⌉ parts.
  const int64_t G =
      std::min<int64_t>((threads + B - 1) / B, (T + kCompressRows - 1) / kCompressRows);
  if (BH >= threads || G <= 1) {
    range_attention_backward(q, k, v, o, lse, dout, dq, dk, dv, B, T, nb, H, Dk, Dv, scale,
                             lo.data(), hi.data());
    return;
  }
  // Part (b, g): queries [first[g], first[g+1]) of batch row b, its dk, dv copies (nb, H, D).
  // A query's work grows with the blocks it sees (causal), so the parts split the total
  // work Σ_t hi[t] evenly rather than the queries (equal query counts gave the later half 3/4
  // of the work at G = 2).
  std::vector<int64_t> first(static_cast<size_t>(G + 1), T);
  {
    double total = 0;
    for (int64_t t = 0; t < T; ++t) total += double(hi[t]) + 1;  // + 1: the per-query part
    first[0] = 0;
    double done = 0;
    int64_t g = 1;
    for (int64_t t = 0; t < T && g < G; ++t) {
      done += double(hi[t]) + 1;
      while (g < G && done >= total * double(g) / double(G)) first[g++] = t + 1;
    }
  }
  const int64_t ldk = H * Dk, ldv = H * Dv;
  std::vector<float> pk(dk ? static_cast<size_t>(B * G * nb * ldk) : 0),
      pv(dv ? static_cast<size_t>(B * G * nb * ldv) : 0);
#pragma omp parallel
  {
    // Each part runs the range kernel on one thread (a nested region is inactive).
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t g = 0; g < G; ++g) {
        const int64_t t0 = first[g], n = first[g + 1] - t0;
        float* gk = dk ? pk.data() + (b * G + g) * nb * ldk : nullptr;
        float* gv = dv ? pv.data() + (b * G + g) * nb * ldv : nullptr;
        if (gk) std::fill(gk, gk + nb * ldk, 0.f);
        if (gv) std::fill(gv, gv + nb * ldv, 0.f);
        if (n == 0) continue;
        const int64_t row = b * T + t0;  // first (b, t) row of the part
        range_attention_backward(q + row * ldk, k + b * nb * ldk, v + b * nb * ldv, o + row * ldv,
                                 lse + row * H, dout + row * ldv, dq ? dq + row * ldk : nullptr, gk,
                                 gv, 1, n, nb, H, Dk, Dv, scale, lo.data() + t0, hi.data() + t0);
      }
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < nb; ++i)
        for (int64_t g = 0; g < G; ++g) {
          const int64_t part = b * G + g;
          if (dk)
            for (int64_t c = 0; c < ldk; ++c)
              dk[(b * nb + i) * ldk + c] += pk[(part * nb + i) * ldk + c];
          if (dv)
            for (int64_t c = 0; c < ldv; ++c)
              dv[(b * nb + i) * ldv + c] += pv[(part * nb + i) * ldv + c];
        }
  }
}

}  // namespace tinyr2::kernels::cpu
