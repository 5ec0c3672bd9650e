// Data-parallel optimizer sharding (SPEC §15): which rank updates which tensor, and the
// exchange of the updated tensors.
//
// Without sharding every rank runs the whole optimizer step on the same averaged gradients:
// Muon's Newton–Schulz iterations (≈ 5 · (3 m² n + m³) FLOPs for an m × n matrix, m ≤ n)
// are most of a step's fixed cost, paid P times over. Sharded, rank r runs the expensive part
// for the tensors it owns and then every rank receives every tensor from its owner:
//   - train.zero = 0: Muon's momentum (cheap, elementwise) is still updated on every rank, so
//     the state stays replicated; only the orthogonalisation and the parameter update of a
//     Muon tensor run on its owner alone (Muon::step with a mask), and the Muon tensors are
//     exchanged. AdamW (cheap, memory-bound) runs everywhere.
//   - train.zero = 1 (ZeRO-1): each rank keeps the state of its own tensors, Muon's and
//     AdamW's, updates them, and every tensor is exchanged.
// Each tensor's update is the arithmetic of the unsharded step on the same inputs (Muon runs
// one tensor per thread, AdamW is elementwise), so the parameters are bit-identical to the
// unsharded step's (tests/train/test_distributed_optim.cpp).
//
// Owners balance a fixed cost model (no timing at run time, so every rank computes the same
// table and two runs the same): whole tensors, largest cost first, each onto the rank with
// the least cost so far (ties: the lower rank).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tape.h"  // MatmulPrecision
#include "core/tensor.h"
#include "train/distributed.h"

namespace tinyr2::train {

// Modelled cost (nanoseconds on one core of the EPYC this was tuned on; only the ratios
// matter) of one Muon update of p (ns_steps Newton–Schulz iterations, its products in
// `precision`: bf16 is cheaper than fp32 only when native, emulated it is dearer) and of one
// AdamW update of p.
double muon_update_cost(const Tensor& p, int ns_steps, MatmulPrecision precision = {});
double adamw_update_cost(const Tensor& p);

// The rank of each item: longest-processing-time-first on `costs` over `ranks` ranks.
std::vector<int> balanced_owners(const std::vector<double>& costs, int ranks);

// Brings every rank the values of tensors[i] as rank owner[i] holds them (blocking; a
// collective every rank calls with the same tensor shapes and owners). Large tensors are
// broadcast from their own memory; runs of small ones of the same owner are packed into one
// message of at most kPackFloats.
class ParameterExchange {
 public:
  static constexpr int64_t kPackFloats = int64_t{1} << 20;

  ParameterExchange(Communicator& comm, std::vector<Tensor> tensors, std::vector<int> owner);
  void run();

  int64_t messages() const { return static_cast<int64_t>(messages_.size()); }

 private:
  struct Message {
    int root = 0;
    std::vector<size_t> tensors;  // one large tensor, or small ones packed in this order
    int64_t floats = 0;
  };
  Communicator& comm_;
  std::vector<Tensor> tensors_;
  std::vector<Message> messages_;
  std::vector<float> pack_;  // reused by every packed message
};

}  // namespace tinyr2::train
