#include "kernels/cpu/nsa_select.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tinyr2::kernels::cpu {

double nsa_overlap_weight(int64_t i, int64_t j, const NsaSelectParams& p) {
  const int64_t lo = std::max(i * p.block_stride, j * p.select_block_size);
  const int64_t hi = std::min(i * p.block_stride + p.block_size, (j + 1) * p.select_block_size);
  return hi > lo ? static_cast<double>(hi - lo) / static_cast<double>(p.block_stride) : 0.0;
}

void nsa_select(const float* q, const float* k_cmp, const float* lse, int32_t* idx, int64_t B,
                int64_t T, int64_t nb, int64_t H, int64_t Dk, float scale,
                const NsaSelectParams& p, int64_t q_pos0) {
  const int64_t l = p.block_size, d = p.block_stride, ls = p.select_block_size;
  const int64_t n = p.num_blocks, width = n * ls;
#pragma omp parallel
  {
    std::vector<double> P, s;
    std::vector<int64_t> order;
    std::vector<char> chosen;
#pragma omp for collapse(2) schedule(dynamic, 16)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = q_pos0 + t;
        const int64_t visible = pos >= l - 1 ? std::min(nb, (pos - l + 1) / d + 1) : 0;
        // P[i] = Σ_h p_h[i]
        P.assign(static_cast<size_t>(visible), 0.0);
        for (int64_t h = 0; h < H; ++h) {
          const float* qv = q + ((b * T + t) * H + h) * Dk;
          const double m = lse[(b * T + t) * H + h];
          for (int64_t i = 0; i < visible; ++i) {
            const float* kv = k_cmp + ((b * nb + i) * H + h) * Dk;
            float dot = 0.f;
            for (int64_t c = 0; c < Dk; ++c) dot += qv[c] * kv[c];
            P[i] += std::exp(static_cast<double>(dot) * scale - m);
          }
        }
        // s[j] over the candidate blocks j·l′ ≤ pos.
        const int64_t J = pos / ls + 1;
        s.assign(static_cast<size_t>(J), 0.0);
        for (int64_t i = 0; i < visible; ++i) {
          const int64_t j0 = (i * d) / ls, j1 = std::min(J - 1, (i * d + l - 1) / ls);
          for (int64_t j = j0; j <= j1; ++j) s[j] += nsa_overlap_weight(i, j, p) * P[i];
        }
        // Forced blocks first, then the best of the rest.
        chosen.assign(static_cast<size_t>(J), 0);
        int64_t count = 0;
        auto take = [&](int64_t j) {
          if (j >= 0 && j < J && !chosen[j] && count < n) chosen[j] = 1, ++count;
        };
        for (int64_t j = 0; j < p.init_blocks; ++j) take(j);
        for (int64_t j = J - p.local_blocks; j < J; ++j) take(j);
        if (count < n) {
          order.resize(static_cast<size_t>(J));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(),
                           [&](int64_t a, int64_t c) { return s[a] > s[c]; });
          for (int64_t j : order) take(j);
        }
        // Tokens u ≤ pos of the chosen blocks, ascending; −1 padding.
        int32_t* out = idx + (b * T + t) * width;
        int64_t w = 0;
        for (int64_t j = 0; j < J; ++j) {
          if (!chosen[j]) continue;
          const int64_t end = std::min((j + 1) * ls, pos + 1);
          for (int64_t u = j * ls; u < end; ++u) out[w++] = static_cast<int32_t>(u);
        }
        for (; w < width; ++w) out[w] = -1;
      }
    }
  }
}

}  // namespace tinyr2::kernels::cpu
