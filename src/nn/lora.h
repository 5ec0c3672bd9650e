// LoRA adapters (SPEC §12): each targeted Linear W (out, in) of a model gains lora_A (r, in)
// and lora_B (out, r), and every product with W becomes
//   y = W x + (a/r) · lora_B(lora_A(dropout_p(x))).
// The adapters are found from the base weight's handle, like the quantized matrices
// (nn/quantized.h): nn::linear and nn::stacked_linear add the low-rank term wherever the
// model applies a targeted weight, so every layer type gets it without per-layer code (the
// MoE's routed experts run one expert at a time then, nn/lora_moe.h).
//
// Targets (SPEC §12): a LIST of module-name suffixes (`c_attn,c_proj`, matched at a `.`
// boundary) or the groups `attn` (every Linear under `blocks.N.attn.`) and `ffn` (every
// Linear under `blocks.N.ffn.` except the router: `ffn.gate`, `ffn.router.*`). A Linear is a
// 2-D `.weight` under attn./ffn. that is no convolution (`conv` in its name); Mamba's
// `dt_proj` is one (its bias stays frozen).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

struct LoraSpec {
  int64_t rank = 0;  // r ≥ 1
  double alpha = 0;  // a; 0 → r
  double dropout = 0;
  std::vector<std::string> targets = {"attn", "ffn"};

  double effective_alpha() const { return alpha > 0 ? alpha : static_cast<double>(rank); }
  float scale() const { return static_cast<float>(effective_alpha() / static_cast<double>(rank)); }
};

// "c_attn, c_proj" → {"c_attn", "c_proj"}; empty items are an error.
std::vector<std::string> parse_lora_targets(const std::string& list);

// Whether the parameter `name` (a §3 state-dict name) is a Linear weight the targets select.
bool is_lora_target(const std::string& name, const Tensor& t,
                    const std::vector<std::string>& targets);

struct LoraAdapter {
  std::string module;  // e.g. "blocks.0.attn.c_attn"
  Tensor base;         // W (out, in), the model's tensor
  Tensor A, B;         // (r, in), (out, r)
};

// PEFT's tensor names: base_model.model.<module>.lora_A.weight / .lora_B.weight.
std::string peft_name(const std::string& module, char which);

class LoraAdapters {
 public:
  // Adapters for every Linear of `model_params` the spec's targets select (registration
  // order), zeros until init(). Throws when the spec is invalid or a target matches nothing.
  LoraAdapters(const Parameters& model_params, const LoraSpec& spec);
  LoraAdapters(const LoraAdapters&) = delete;
  LoraAdapters& operator=(const LoraAdapters&) = delete;

  // lora_A ~ N(0, 1/r) (std r^−½), lora_B = 0, from one stream seeded by `seed`.
  void init(uint64_t seed) { params_.init_all(seed); }

  const LoraSpec& spec() const { return spec_; }
  const std::vector<LoraAdapter>& all() const { return adapters_; }
  const LoraAdapter* find(const Tensor& w) const;  // by the base weight's handle
  // The target modules, in order (adapter_config.json's target_modules).
  std::vector<std::string> modules() const;

  // PEFT name → tensor (adapter_model.safetensors); load is strict (names and shapes).
  std::map<std::string, Tensor> state_dict() const { return params_.state_dict(); }
  void load_state_dict(const std::map<std::string, Tensor>& sd, const std::string& source) {
    params_.load_state_dict(sd, source);
  }
  const Parameters& params() const { return params_; }

  // The base the adapters belong to (adapter_config.json's base_model_name_or_path and
  // base_model_sha256), written by save_adapter.
  std::string base_name, base_sha256;

 private:
  LoraSpec spec_;
  Parameters params_;  // the A and B tensors under their PEFT names
  std::vector<LoraAdapter> adapters_;
  std::map<const float*, size_t> by_base_;
};

// Freezes every tensor of `p`: no gradient is recorded for it (the base of a LoRA run).
void freeze(const Parameters& p);

// The adapter of w in ctx's model, or nullptr.
inline const LoraAdapter* lora_of(const ForwardContext& ctx, const Tensor& w) {
  return ctx.lora ? ctx.lora->find(w) : nullptr;
}

// (a/r) · lora_A(dropout_p(x)): the rank-r middle of the update, (…, r).
Tensor lora_down(ForwardContext& ctx, const Tensor& x, const LoraAdapter& a);
// (a/r) · lora_B(lora_A(dropout_p(x))), (…, out).
Tensor lora_delta(ForwardContext& ctx, const Tensor& x, const LoraAdapter& a);

// W + (a/r)·B·A for every adapter, written into the base weights (tinyr2 merge).
void merge_into_base(const LoraAdapters& adapters);

}  // namespace tinyr2::nn
