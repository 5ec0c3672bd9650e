// NSA block selection (kernels/cpu/nsa_select): overlap weights against a brute-force
// count, forced blocks, causality of the chosen blocks, and the top-scoring choice
// against an independent brute-force selection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/rng.h"
#include "kernels/cpu/nsa_select.h"

namespace tinyr2::kernels::cpu {

TEST(NsaSelect, OverlapWeightsMatchABruteForceCount) {
  for (auto [l, d, ls] :
       {std::tuple{32, 16, 64}, {16, 16, 32}, {16, 8, 32}, {8, 4, 4}, {32, 8, 16}}) {
    const NsaSelectParams p{l, d, ls, 4, 1, 1};
    for (int64_t i = 0; i < 20; ++i)
      for (int64_t j = 0; j < 12; ++j) {
        int shared = 0;
        for (int64_t u = i * d; u < i * d + l; ++u) shared += (u >= j * ls && u < (j + 1) * ls);
        EXPECT_DOUBLE_EQ(nsa_overlap_weight(i, j, p), double(shared) / d)
            << l << " " << d << " " << ls;
      }
  }
  // SPEC example: l = 32, d = 16, l′ = 64 gives 1, 2, 2, 2, 1 for blocks i = 3..7 and j = 1.
  const NsaSelectParams p{32, 16, 64, 4, 1, 1};
  std::vector<double> w;
  for (int64_t i = 3; i <= 7; ++i) w.push_back(nsa_overlap_weight(i, 1, p));
  EXPECT_EQ(w, (std::vector<double>{1, 2, 2, 2, 1}));
}

namespace {
struct SelectionRun {
  int64_t B = 2, T = 150, H = 3, Dk = 8;
  NsaSelectParams p{16, 8, 16, 4, 1, 1};
  int64_t nb() const { return T >= p.block_size ? (T - p.block_size) / p.block_stride + 1 : 0; }
  std::vector<float> q, k, lse;
  std::vector<int32_t> idx;
  void run(uint64_t seed) {
    q.resize(B * T * H * Dk);
    k.resize(B * nb() * H * Dk);
    Rng(seed).normal(q.data(), static_cast<int64_t>(q.size()));
    Rng(seed + 1).normal(k.data(), static_cast<int64_t>(k.size()));
    // Exact log-sum-exp over the visible blocks, computed here independently.
    lse.assign(B * T * H, 0.f);
    const float scale = 1.f / std::sqrt(float(Dk));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          double m = -INFINITY, s = 0;
          std::vector<double> sc;
          for (int64_t i = 0; i < nb() && i * p.block_stride + p.block_size - 1 <= t; ++i) {
            double dot = 0;
            for (int64_t c = 0; c < Dk; ++c)
              dot += q[((b * T + t) * H + h) * Dk + c] * k[((b * nb() + i) * H + h) * Dk + c];
            sc.push_back(dot * scale);
            m = std::max(m, dot * scale);
          }
          for (double v : sc) s += std::exp(v - m);
          lse[(b * T + t) * H + h] = sc.empty() ? 0.f : float(m + std::log(s));
        }
    idx.assign(B * T * p.num_blocks * p.select_block_size, 0);
    nsa_select(q.data(), k.data(), lse.data(), idx.data(), B, T, nb(), H, Dk,
               1.f / std::sqrt(float(Dk)), p);
  }
  std::set<int64_t> blocks_of(int64_t b, int64_t t) const {
    std::set<int64_t> out;
    const int64_t width = p.num_blocks * p.select_block_size;
    for (int64_t w = 0; w < width; ++w) {
      const int32_t u = idx[(b * T + t) * width + w];
      if (u >= 0) out.insert(u / p.select_block_size);
    }
    return out;
  }
};
}  // namespace

TEST(NsaSelect, ForcedBlocksChosenAndNothingAfterTheQuery) {
  SelectionRun s;
  s.run(1);
  const int64_t ls = s.p.select_block_size, width = s.p.num_blocks * ls;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const auto blocks = s.blocks_of(b, t);
      const int64_t J = t / ls + 1;
      EXPECT_EQ(static_cast<int64_t>(blocks.size()), std::min<int64_t>(J, s.p.num_blocks)) << t;
      EXPECT_TRUE(blocks.count(0)) << "initial block missing at t=" << t;
      EXPECT_TRUE(blocks.count(t / ls)) << "local block missing at t=" << t;
      for (int64_t w = 0; w < width; ++w) {
        const int32_t u = s.idx[(b * s.T + t) * width + w];
        EXPECT_LE(u, t) << "token after the query selected";
        if (w > 0 && u >= 0) {
          EXPECT_GT(u, s.idx[(b * s.T + t) * width + w - 1]);
        }
      }
    }
}

TEST(NsaSelect, ChoosesTheHighestScoringBlocks) {
  SelectionRun s;
  s.run(2);
  const int64_t ls = s.p.select_block_size;
  const float scale = 1.f / std::sqrt(float(s.Dk));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t J = t / ls + 1;
      if (J <= s.p.num_blocks) continue;
      // Brute force: s[j] = Σ_h Σ_i (tokens of i in j)/d · softmax_i(scores)[i].
      std::vector<double> score(J, 0.0);
      for (int64_t h = 0; h < s.H; ++h)
        for (int64_t i = 0; i < s.nb() && i * s.p.block_stride + s.p.block_size - 1 <= t; ++i) {
          double dot = 0;
          for (int64_t c = 0; c < s.Dk; ++c)
            dot += s.q[((b * s.T + t) * s.H + h) * s.Dk + c] *
                   s.k[((b * s.nb() + i) * s.H + h) * s.Dk + c];
          const double prob = std::exp(dot * scale - s.lse[(b * s.T + t) * s.H + h]);
          for (int64_t u = i * s.p.block_stride; u < i * s.p.block_stride + s.p.block_size; ++u)
            if (u / ls < J) score[u / ls] += prob / s.p.block_stride;
        }
      std::set<int64_t> expected = {0, J - 1};
      std::vector<int64_t> rest;
      for (int64_t j = 1; j < J - 1; ++j) rest.push_back(j);
      std::stable_sort(rest.begin(), rest.end(),
                       [&](int64_t a, int64_t c) { return score[a] > score[c]; });
      for (int64_t j : rest)
        if (static_cast<int64_t>(expected.size()) < s.p.num_blocks) expected.insert(j);
      EXPECT_EQ(s.blocks_of(b, t), expected) << "b=" << b << " t=" << t;
    }
}

}  // namespace tinyr2::kernels::cpu
