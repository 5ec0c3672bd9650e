// Data-parallel optimizer sharding (train/distributed_optim.h, SPEC §15), in one process:
//   - balanced_owners is greedy longest-first: every item owned, loads within one item's
//     cost of each other, ties to the lower rank, the same table every call;
//   - the default model's Muon work splits evenly over 2 ranks (the cost model's purpose);
//   - Muon::step with complementary masks on two copies gives, tensor by tensor, exactly the
//     parameters and momentum buffers of the unmasked step (what the ranks then exchange).
// The 2-rank runs (sharded = replicated bit for bit) are in test_distributed.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "nn/model.h"
#include "optim/muon.h"
#include "train/distributed_optim.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace tinyr2::train {

namespace {

std::vector<double> loads(const std::vector<double>& costs, const std::vector<int>& owner,
                          int ranks) {
  std::vector<double> l(static_cast<size_t>(ranks), 0.0);
  for (size_t i = 0; i < costs.size(); ++i) l[static_cast<size_t>(owner[i])] += costs[i];
  return l;
}

Tensor random_tensor(std::vector<int64_t> shape, Rng& rng) {
  Tensor t = Tensor::empty(std::move(shape));
  rng.normal(t.data(), t.numel());
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

}  // namespace

TEST(DistributedOptim, BalancedOwnersIsGreedyLongestFirst) {
  Rng rng(3);
  std::vector<double> costs(37);
  for (double& c : costs) c = 1.0 + static_cast<double>(rng.next_below(1000));
  for (const int ranks : {1, 2, 3, 8}) {
    const std::vector<int> owner = balanced_owners(costs, ranks);
    ASSERT_EQ(owner.size(), costs.size());
    for (const int o : owner) ASSERT_TRUE(o >= 0 && o < ranks);
    EXPECT_EQ(owner, balanced_owners(costs, ranks));
    const std::vector<double> l = loads(costs, owner, ranks);
    const double spread =
        *std::max_element(l.begin(), l.end()) - *std::min_element(l.begin(), l.end());
    EXPECT_LE(spread, *std::max_element(costs.begin(), costs.end())) << ranks << " ranks";
  }
  // Equal costs: the first (largest-first, stable) to rank 0, the next to rank 1, ...
  EXPECT_EQ(balanced_owners({5, 5, 5, 5, 5}, 2), (std::vector<int>{0, 1, 0, 1, 0}));
  // Longest first: 7 alone on one rank, 4 + 3 on the other.
  EXPECT_EQ(balanced_owners({3, 7, 4}, 2), (std::vector<int>{1, 0, 1}));
}

// bf16 Newton–Schulz counts as cheaper than fp32 only with native products: emulated it is
// the dearest (bench_newton_schulz.cpp), whatever the CPU running the test.
TEST(DistributedOptim, MuonCostOfBf16DependsOnNativeProducts) {
  const Tensor p = Tensor::zeros({1024, 256});
  const double fp32 = muon_update_cost(p, 5), native = muon_update_cost(p, 5, {true, true}),
               emulated = muon_update_cost(p, 5, {true, false});
  EXPECT_EQ(fp32, muon_update_cost(p, 5, {false, false}));
  EXPECT_LT(native, fp32);
  EXPECT_GT(emulated, fp32);
}

TEST(DistributedOptim, DefaultModelsMuonWorkSplitsEvenlyOverTwoRanks) {
  const RunConfig rc = load_run_config(std::string(TINYR2_SOURCE_DIR) + "/configs/default.json");
  nn::Model model(rc.model);  // parameters registered (zeros): shapes are all that count
  const ParamGroups g = partition_parameters(model);
  std::vector<double> costs;
  for (const auto& [name, p] : g.muon) costs.push_back(muon_update_cost(p, 5));
  ASSERT_GE(costs.size(), 8u);
  const std::vector<double> l = loads(costs, balanced_owners(costs, 2), 2);
  const double total = l[0] + l[1];
  EXPECT_LE(std::abs(l[0] - l[1]), 0.05 * total) << l[0] << " vs " << l[1];
  // Newton–Schulz dominates AdamW's pass over the tied embedding (the largest tensor).
  double adamw = 0;
  for (const auto& [name, p] : g.adamw) adamw += adamw_update_cost(p);
  EXPECT_GT(total, 2 * adamw);
}

TEST(DistributedOptim, MaskedMuonStepsTogetherEqualTheWholeStep) {
  Rng rng(11);
  const std::vector<std::vector<int64_t>> shapes = {{24, 40}, {40, 24}, {16, 16}, {8, 3, 4}};
  optim::NamedParams whole, half_a, half_b;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Tensor p = random_tensor(shapes[k], rng);
    const std::string name = "blocks.0.w" + std::to_string(k);
    whole.emplace_back(name, p.clone());
    half_a.emplace_back(name, p.clone());
    half_b.emplace_back(name, p.clone());
  }
  const optim::MuonConfig cfg{0.9, 0.01, 5};
  optim::Muon m_whole(whole, cfg), m_a(half_a, cfg), m_b(half_b, cfg);
  const std::vector<uint8_t> mask_a = {1, 0, 0, 1}, mask_b = {0, 1, 1, 0};
  for (int step = 0; step < 3; ++step) {
    for (size_t k = 0; k < shapes.size(); ++k) {
      const Tensor g = random_tensor(shapes[k], rng);
      for (auto* group : {&whole, &half_a, &half_b}) (*group)[k].second.mutable_grad() = g.clone();
    }
    m_whole.step(0.02);
    m_a.step(0.02, mask_a);
    m_b.step(0.02, mask_b);
    for (size_t k = 0; k < shapes.size(); ++k) {
      // The rank that updated tensor k holds the whole step's values; the other one keeps
      // its old values until the exchange, which copies them over here.
      optim::NamedParams& mine = mask_a[k] ? half_a : half_b;
      optim::NamedParams& other = mask_a[k] ? half_b : half_a;
      EXPECT_TRUE(same_bits(mine[k].second, whole[k].second)) << "step " << step << " k " << k;
      EXPECT_FALSE(same_bits(other[k].second, whole[k].second));
      other[k].second.copy_from(mine[k].second);
    }
    // Both keep the whole step's momentum buffers, bit for bit.
    for (const auto* m : {&m_a, &m_b})
      for (const auto& [key, buffer] : m->state_dict())
        EXPECT_TRUE(same_bits(buffer, m_whole.state_dict().at(key))) << key;
  }
}

}  // namespace tinyr2::train
