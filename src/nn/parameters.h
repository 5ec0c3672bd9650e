// The model's named tensors — parameters (trained) and buffers (saved, not trained) — in
// registration order, with PyTorch state-dict names (SPEC §3), e.g.
// "blocks.3.attn.window_k.weight". Modules keep Tensor handles to the same storage, so
// loading a state dict copies into the tensors the modules already hold.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace tinyr2::nn {

// How a tensor is initialised (SPEC §2: Linear/embeddings N(0, init_std), norms 1, ...).
struct Init {
  enum class Kind { Normal, Constant, Values, Uniform, DtBias } kind = Kind::Normal;
  float value = 0.f;          // std for Normal, the value for Constant, the bound for Uniform
  std::vector<float> values;  // for Values (e.g. an identity matrix); DtBias: min, max, floor

  static Init normal(float std) { return {Kind::Normal, std, {}}; }
  static Init constant(float v) { return {Kind::Constant, v, {}}; }
  static Init from(std::vector<float> v) { return {Kind::Values, 0.f, std::move(v)}; }
  static Init uniform(float bound) { return {Kind::Uniform, bound, {}}; }  // U(−bound, bound)
  // Mamba's dt bias (SPEC §10): dt = max(exp(U(log dt_min, log dt_max)), floor), then the
  // inverse softplus dt + log(−expm1(−dt)).
  static Init dt_bias(float dt_min, float dt_max, float floor) {
    return {Kind::DtBias, 0.f, {dt_min, dt_max, floor}};
  }
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
  bool buffer = false;
  Init init;
};

class Parameters {
 public:
  // Names whose tensors are left unfilled: their buffer is reserved but never written (the
  // quantized matrices of a GGUF model, nn/quantized.h); load_state_dict skips them. Call
  // before the tensors are added.
  void leave_unfilled(std::set<std::string> names) { unfilled_ = std::move(names); }
  bool unfilled(const std::string& name) const { return unfilled_.count(name) > 0; }

  // Registers a new tensor (zeros until init_all) and returns its handle.
  Tensor add(const std::string& name, const Shape& shape, Init init, bool buffer = false);

  // Initialises every tensor in registration order from one seeded stream.
  void init_all(uint64_t seed);

  const std::vector<NamedTensor>& all() const { return entries_; }
  std::vector<Tensor> trainable() const;  // parameters, not buffers
  const NamedTensor* find(const std::string& name) const;
  int64_t count(bool include_buffers = false) const;

  // name → tensor for every entry (parameters and buffers): what model.safetensors holds.
  std::map<std::string, Tensor> state_dict() const;
  // Copies a state dict in. Strict: every name present with the right shape, no extras;
  // errors name the tensor and `source` (e.g. the file).
  void load_state_dict(const std::map<std::string, Tensor>& sd, const std::string& source);

 private:
  std::vector<NamedTensor> entries_;
  std::map<std::string, size_t> index_;
  std::set<std::string> unfilled_;
};

}  // namespace tinyr2::nn
