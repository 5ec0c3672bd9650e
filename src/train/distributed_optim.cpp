// Data-parallel optimizer sharding; see distributed_optim.h (SPEC §15).
#include "train/distributed_optim.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "optim/muon.h"

namespace tinyr2::train {

// The constants: Newton–Schulz runs at about kNsPerFlop (syrk and gemm on one core), the
// elementwise passes (momentum, normalisation, update; AdamW's moments) at about kNsPer*
// per element. Measured with `bench train-step` phase times (docs/distributed.md).
namespace {
constexpr double kNsPerFlop = 0.01;
// Newton–Schulz with bf16 products (train.precision "bf16"), native (AVX512_BF16): 0.64–0.76 ×
// the fp32 time at the default config's Muon shapes (bench/bench_newton_schulz.cpp, one thread).
constexpr double kNsPerFlopBf16 = 0.007;
// Emulated (a CPU without AVX512_BF16): 1.15–1.24 × the fp32 CPU time at 1024×256, 256×1024,
// 768×256 and 256×256, so slower than fp32 (bench/bench_newton_schulz.cpp variant 2 vs 0,
// TINYR2_ISA=avx512 -t 1, EPYC Zen 4, shared machine, stop 28).
constexpr double kNsPerFlopBf16Emulated = 0.012;
constexpr double kNsPerMuonElement = 4.0;
constexpr double kNsPerAdamWElement = 2.5;
}  // namespace

double muon_update_cost(const Tensor& p, int ns_steps, MatmulPrecision precision) {
  const auto [rows, cols] = optim::muon_matrix_shape(p);
  const double m = static_cast<double>(std::min(rows, cols));
  const double n = static_cast<double>(std::max(rows, cols));
  // Per iteration: syrk X Xᵀ (m² n), syrk A Aᵀ (m³), gemm B X (2 m² n).
  const double flops = ns_steps * (3 * m * m * n + m * m * m);
  const double per_flop = !precision.bf16    ? kNsPerFlop
                          : precision.native ? kNsPerFlopBf16
                                             : kNsPerFlopBf16Emulated;
  return flops * per_flop + static_cast<double>(p.numel()) * kNsPerMuonElement;
}

double adamw_update_cost(const Tensor& p) {
  return static_cast<double>(p.numel()) * kNsPerAdamWElement;
}

std::vector<int> balanced_owners(const std::vector<double>& costs, int ranks) {
  TINYR2_CHECK(ranks >= 1, "balanced_owners: {} ranks", ranks);
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (const size_t i : order) {
    const auto r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = static_cast<int>(r);
    load[r] += costs[i];
  }
  return owner;
}

ParameterExchange::ParameterExchange(Communicator& comm, std::vector<Tensor> tensors,
                                     std::vector<int> owner)
    : comm_(comm), tensors_(std::move(tensors)) {
  TINYR2_CHECK(owner.size() == tensors_.size(), "ParameterExchange: {} owners for {} tensors",
               owner.size(), tensors_.size());
  if (comm_.size() == 1) return;
  // Rank by rank, in tensor order: one message per large tensor, small ones packed.
  for (int r = 0; r < comm_.size(); ++r) {
    Message pack{r, {}, 0};
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (owner[i] != r) continue;
      const int64_t n = tensors_[i].numel();
      if (n == 0) continue;
      if (n >= kPackFloats) {
        messages_.push_back({r, {i}, n});
        continue;
      }
      if (pack.floats + n > kPackFloats) {
        messages_.push_back(pack);
        pack = {r, {}, 0};
      }
      pack.tensors.push_back(i);
      pack.floats += n;
    }
    if (!pack.tensors.empty()) messages_.push_back(pack);
  }
}

void ParameterExchange::run() {
  for (const Message& m : messages_) {
    if (m.tensors.size() == 1 && m.floats >= kPackFloats) {  // in place
      comm_.broadcast(tensors_[m.tensors[0]].data(), m.floats, m.root);
      continue;
    }
    pack_.resize(static_cast<size_t>(kPackFloats));
    const bool mine = m.root == comm_.rank();
    float* p = pack_.data();
    if (mine)
      for (const size_t i : m.tensors) {
        std::memcpy(p, tensors_[i].data(),
                    static_cast<size_t>(tensors_[i].numel()) * sizeof(float));
        p += tensors_[i].numel();
      }
    comm_.broadcast(pack_.data(), m.floats, m.root);
    if (mine) continue;
    p = pack_.data();
    for (const size_t i : m.tensors) {
      std::memcpy(tensors_[i].data(), p, static_cast<size_t>(tensors_[i].numel()) * sizeof(float));
      p += tensors_[i].numel();
    }
  }
}

}  // namespace tinyr2::train
