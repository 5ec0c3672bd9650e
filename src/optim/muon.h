// Muon (SPEC §6): momentum, then an orthogonalised update, for the ≥2-D `blocks.*` weights.
//
// For a parameter p seen as a matrix (rows = size(0), cols = numel / rows; a ≥3-D tensor is
// flattened to (size(0), prod(rest))) with gradient g, momentum β and learning rate lr:
//
//   m ← β m + (1 − β) g                          (momentum buffer, the saved state)
//   u = (1 − β) g + β m                          (Nesterov)
//   X = NS5(u / (‖u‖_F + 1e-7))                  (kernels/cpu/newton_schulz.h; on uᵀ when
//                                                 rows > cols)
//   p ← p · (1 − lr · wd)                        (decoupled weight decay, only if wd > 0;
//                                                 applied BEFORE the update, as in Keller
//                                                 Jordan's Muon)
//   p ← p − lr · sqrt(max(1, rows / cols)) · X
//
// `lr` is the scheduled Muon rate: train.muon_lr × lr_multiplier(step) (optim/schedule.h).
// A parameter whose .grad() is undefined in a step is skipped entirely (no momentum decay,
// no weight decay), like torch.optim. Arithmetic is float32; the Frobenius norm is
// accumulated in double. reference/optim.py (class Muon) is the PyTorch twin.
//
// Under train.precision "bf16" (MuonConfig::precision, SPEC §13) Newton–Schulz's matrix
// products take bf16 operands with fp32 accumulation (kernels/cpu/newton_schulz_bf16.h), as
// Muon's own reference implementation runs them; the momentum, u, the norm and the update
// stay fp32. Under fp32 nothing changes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tape.h"
#include "core/tensor.h"

namespace tinyr2::optim {

// (name, parameter) pairs, names as in the state dict (SPEC §3). The optimizers hold the
// handles: a step reads each parameter's .grad() and updates its data in place.
using NamedParams = std::vector<std::pair<std::string, Tensor>>;

struct MuonConfig {
  double momentum = 0.95;     // β (train.muon_momentum), 0 ≤ β < 1
  double weight_decay = 0.0;  // train.muon_weight_decay (decoupled; 0 = off)
  int ns_steps = 5;
  MatmulPrecision precision{};  // Newton–Schulz's products: fp32, or bf16 (native/emulated)
};

class Muon {
 public:
  // Every parameter must have ≥ 2 dims; names must be unique. Momentum buffers start at 0.
  explicit Muon(NamedParams params, MuonConfig config = {});

  // One update of every parameter that has a gradient, with learning rate lr.
  void step(double lr);
  // The same step, except that a parameter k with orthogonalise[k] == 0 gets the momentum
  // update alone (m ← β m + (1 − β) g): no Newton–Schulz, its values untouched. The state is
  // then that of step(lr), and the parameters with orthogonalise[k] == 1 are bit for bit
  // those of step(lr) (data-parallel ranks share the orthogonalisations,
  // train/distributed_optim.h).
  void step(double lr, const std::vector<uint8_t>& orthogonalise);

  const NamedParams& params() const { return params_; }
  const MuonConfig& config() const { return config_; }

  // The state to checkpoint: "muon.<param name>.momentum_buffer" → buffer (same shape as the
  // parameter). The tensors are the optimizer's own handles: save them as they are.
  std::map<std::string, Tensor> state_dict() const;
  // Copies the buffers back in. Every "muon.*" key of this optimizer must be present with
  // the right shape and no unknown "muon.*" key may appear (other keys are ignored, so one
  // map can hold both optimizers); errors name the key and `source`.
  void load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source);

 private:
  NamedParams params_;
  std::vector<Tensor> momentum_;  // one per parameter, same order
  MuonConfig config_;
};

// The (rows, cols) matrix Muon sees for a ≥2-D tensor: (size(0), numel / size(0)).
std::pair<int64_t, int64_t> muon_matrix_shape(const Tensor& p);

// NS_steps(g / (‖g‖_F + 1e-7)) of a ≥2-D tensor seen as muon_matrix_shape(g); same shape
// as g, its products in `precision`. This is the X of the update above (exposed for tests
// and benchmarks).
Tensor newton_schulz(const Tensor& g, int steps = 5, MatmulPrecision precision = {});

}  // namespace tinyr2::optim
