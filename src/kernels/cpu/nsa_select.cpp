#include "kernels/cpu/nsa_select.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {

using namespace attention_detail;
using namespace nsa_select_detail;

constexpr int64_t kSelectRows = 32;  // queries per work item (a multiple of kRows)

}  // namespace

namespace nsa_select_detail {

OverlapTable::OverlapTable(int64_t nb, const NsaSelectParams& p)
    : first(nb), count(nb), offset(nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t j0 = (i * p.block_stride) / p.select_block_size;
    const int64_t j1 = (i * p.block_stride + p.block_size - 1) / p.select_block_size;
    first[i] = j0;
    count[i] = j1 - j0 + 1;
    offset[i] = static_cast<int64_t>(w.size());
    for (int64_t j = j0; j <= j1; ++j) w.push_back(static_cast<float>(nsa_overlap_weight(i, j, p)));
  }
}

void choose_blocks(const float* s, int64_t J, const NsaSelectParams& p, std::vector<char>& chosen,
                   std::vector<int32_t>& rest, int32_t* out) {
  const int64_t n = p.num_blocks;
  chosen.assign(static_cast<size_t>(J), 0);
  int64_t count = 0;
  auto take = [&](int64_t j) {
    if (j >= 0 && j < J && !chosen[j] && count < n) {
      chosen[j] = 1;
      out[count++] = static_cast<int32_t>(j);
    }
  };
  for (int64_t j = 0; j < p.init_blocks; ++j) take(j);
  for (int64_t j = J - p.local_blocks; j < J; ++j) take(j);
  if (count < n) {
    rest.clear();
    for (int64_t j = 0; j < J; ++j)
      if (!chosen[j]) rest.push_back(static_cast<int32_t>(j));
    const int64_t k = std::min<int64_t>(n - count, static_cast<int64_t>(rest.size()));
    std::partial_sort(rest.begin(), rest.begin() + k, rest.end(),
                      [&](int32_t a, int32_t c) { return s[a] > s[c] || (s[a] == s[c] && a < c); });
    for (int64_t i = 0; i < k; ++i) take(rest[i]);
  }
  std::sort(out, out + count);
  std::fill(out + count, out + n, -1);
}

}  // namespace nsa_select_detail

double nsa_overlap_weight(int64_t i, int64_t j, const NsaSelectParams& p) {
  const int64_t lo = std::max(i * p.block_stride, j * p.select_block_size);
  const int64_t hi = std::min(i * p.block_stride + p.block_size, (j + 1) * p.select_block_size);
  return hi > lo ? static_cast<double>(hi - lo) / static_cast<double>(p.block_stride) : 0.0;
}

// One work item per (b, tile of kSelectRows queries). Per tile of kKeyTile compressed blocks
// and per head: transpose the keys once, score the queries 4 at a time, add
// p = exp(s − lse) (0 past a query's visible blocks) into the tile's head sum; then spread
// the sums over the selection blocks. Later queries see more blocks: dynamic schedule.
void nsa_select_blocks(const float* q, const float* k_cmp, const float* lse, int32_t* blocks,
                       int64_t B, int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale,
                       const NsaSelectParams& p, int64_t q_pos0) {
  const int64_t ls = p.select_block_size, n = p.num_blocks;
  const int64_t n_tiles = (T + kSelectRows - 1) / kSelectRows;
  const OverlapTable table(nb, p);
#pragma omp parallel if (B * T > 1)
  {
    std::vector<float> kt(Dk * kKeyTile), s(kRows * kKeyTile), psum(kSelectRows * kKeyTile), sc;
    std::vector<char> chosen;
    std::vector<int32_t> rest;
    const float* x[kRows];
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t tile = 0; tile < n_tiles; ++tile) {
        const int64_t t0 = tile * kSelectRows, nr = std::min(kSelectRows, T - t0);
        const int64_t J = (q_pos0 + t0 + nr - 1) / ls + 1;  // candidates of the last query
        int64_t vis[kSelectRows];
        for (int64_t r = 0; r < nr; ++r) vis[r] = nsa_visible_blocks(q_pos0 + t0 + r, nb, p);
        const int64_t vmax = vis[nr - 1];  // visibility grows with t
        sc.assign(static_cast<size_t>(kSelectRows * J), 0.f);
        for (int64_t i0 = 0; i0 < vmax; i0 += kKeyTile) {
          const int64_t nk = std::min(kKeyTile, vmax - i0);
          std::fill(psum.begin(), psum.end(), 0.f);
          for (int64_t h = 0; h < H; ++h) {
            transpose_tile(k_cmp + (b * nb + i0) * H * Dk + h * Dk, H * Dk, nk, Dk, kt.data());
            for (int64_t r0 = 0; r0 < nr; r0 += kRows) {
              const int64_t rn = std::min(kRows, nr - r0);
              if (vis[r0 + rn - 1] <= i0) continue;  // no row of this group sees the tile
              for (int64_t r = 0; r < kRows; ++r)
                x[r] = q + ((b * T + t0 + r0 + std::min(r, rn - 1)) * H + h) * Dk;
              block_scores(x, kt.data(), Dk, scale, s.data());
              for (int64_t r = 0; r < rn; ++r) {
                const int64_t e = vis[r0 + r] - i0;  // visible blocks of this tile: [0, e)
                if (e <= 0) continue;
                const float m = lse[(b * T + t0 + r0 + r) * H + h];
                const float* sr = s.data() + r * kKeyTile;
                float* pr = psum.data() + (r0 + r) * kKeyTile;
#pragma omp simd
                for (int64_t j = 0; j < kKeyTile; ++j) pr[j] += j < e ? fast_exp(sr[j] - m) : 0.f;
              }
            }
          }
          for (int64_t r = 0; r < nr; ++r)
            table.spread(psum.data() + r * kKeyTile, i0, std::min(nk, vis[r] - i0),
                         sc.data() + r * J);
        }
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t pos = q_pos0 + t0 + r;
          choose_blocks(sc.data() + r * J, pos / ls + 1, p, chosen, rest,
                        blocks + (b * T + t0 + r) * n);
        }
      }
  }
}

void nsa_select(const float* q, const float* k_cmp, const float* lse, int32_t* idx, int64_t B,
                int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale, const NsaSelectParams& p,
                int64_t q_pos0) {
  const int64_t ls = p.select_block_size, n = p.num_blocks, width = n * ls;
  std::vector<int32_t> blocks(static_cast<size_t>(B * T * n));
  nsa_select_blocks(q, k_cmp, lse, blocks.data(), B, T, nb, H, Dk, scale, p, q_pos0);
  // Tokens u ≤ pos of the chosen blocks, ascending; −1 padding.
  for (int64_t bt = 0; bt < B * T; ++bt) {
    const int64_t pos = q_pos0 + bt % T;
    int32_t* out = idx + bt * width;
    int64_t w = 0;
    for (int64_t c = 0; c < n; ++c) {
      const int64_t j = blocks[bt * n + c];
      if (j < 0) continue;
      for (int64_t u = j * ls; u < std::min((j + 1) * ls, pos + 1); ++u)
        out[w++] = static_cast<int32_t>(u);
    }
    std::fill(out + w, out + width, -1);
  }
}

}  // namespace tinyr2::kernels::cpu
