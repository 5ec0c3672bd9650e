// AdamW (Loshchilov & Hutter; torch.optim.AdamW's arithmetic), SPEC §6: every parameter
// that Muon does not take. For a parameter p with gradient g, at its t-th step (t = 1, 2, …):
//
//   p ← p · (1 − lr · wd)                        (decoupled weight decay, ≥2-D params only)
//   m ← β1 m + (1 − β1) g
//   v ← β2 v + (1 − β2) g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps)
//
// Weight decay: applied to parameters with ≥ 2 dims (embeddings, block_compressor,
// intra_block_pos_encoding, the HC matrices), never to 1-D / scalar ones (norm weights,
// biases, lamb*, HC vectors and scales) — adamw_decays() below is the rule, and
// reference/optim.py uses the same one. (torch.optim.AdamW decays whatever it is given;
// the original Tiny-R2 code passed it everything.)
//
// A parameter whose .grad() is undefined in a step is skipped entirely (its t does not
// advance), like torch.optim. Each parameter keeps its own step count t, as a float32
// scalar tensor like torch's (exact up to 2^24 steps). Elementwise arithmetic is float32;
// the bias corrections are computed in double.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "optim/muon.h"  // NamedParams

namespace tinyr2::optim {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95;  // train.betas
  double eps = 1e-8;                 // train.eps
  double weight_decay = 0.1;         // train.weight_decay (≥2-D params only)
};

// Whether AdamW applies weight decay to p: p.dim() >= 2.
bool adamw_decays(const Tensor& p);
// Mamba's A_log, D, conv1d.* and dt_proj.* tensors (SPEC §10): AdamW without weight decay,
// never Muon.
bool is_ssm_dynamics_param(const std::string& name);
// The rule AdamW::step applies: adamw_decays(p) and not an SSM dynamics tensor.
bool adamw_decays(const std::string& name, const Tensor& p);

class AdamW {
 public:
  // Names must be unique. Moments start at 0, step counts at 0.
  explicit AdamW(NamedParams params, AdamWConfig config = {});

  // One update of every parameter that has a gradient, with learning rate lr.
  void step(double lr);

  const NamedParams& params() const { return params_; }
  const AdamWConfig& config() const { return config_; }

  // The state to checkpoint, per parameter: "adamw.<name>.exp_avg" (m), "adamw.<name>.
  // exp_avg_sq" (v), both shaped like the parameter, and "adamw.<name>.step" (shape [],
  // float). The tensors are the optimizer's own handles: save them as they are.
  std::map<std::string, Tensor> state_dict() const;
  // Copies the state back in; strict about this optimizer's "adamw.*" keys (all present,
  // right shapes, integral steps ≥ 0, none unknown), other keys are ignored. Errors name the
  // key and `source`.
  void load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source);

 private:
  struct State {
    Tensor exp_avg, exp_avg_sq, step;
  };
  NamedParams params_;
  std::vector<State> state_;  // one per parameter, same order
  AdamWConfig config_;
};

}  // namespace tinyr2::optim
