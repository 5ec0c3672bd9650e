#include "nn/lora.h"

#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"

namespace tinyr2::nn {

namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// "blocks.N.<group>." → group ("attn", "ffn") or "" (SPEC §3 names).
std::string group_of(const std::string& name) {
  if (!starts_with(name, "blocks.")) return "";
  const size_t a = name.find('.', 7);
  if (a == std::string::npos) return "";
  const size_t b = name.find('.', a + 1);
  if (b == std::string::npos) return "";
  return name.substr(a + 1, b - a - 1);
}

// The module name of a Linear weight SPEC §12 can target, or "" (see lora.h).
std::string linear_module(const std::string& name, const Tensor& t) {
  if (t.dim() != 2 || !ends_with(name, ".weight") || name.find("conv") != std::string::npos)
    return "";
  const std::string g = group_of(name);
  if (g != "attn" && g != "ffn") return "";
  const std::string module = name.substr(0, name.size() - 7);
  const std::string rest = module.substr(module.find(".ffn.") + 5);
  if (g == "ffn" && (rest == "gate" || starts_with(rest, "router"))) return "";  // the router
  return module;
}

bool matches(const std::string& module, const std::string& target) {
  if (target == "attn" || target == "ffn") return group_of(module + ".") == target;
  return module == target || ends_with(module, "." + target);
}

}  // namespace

std::vector<std::string> parse_lora_targets(const std::string& list) {
  std::vector<std::string> out;
  size_t at = 0;
  while (true) {
    const size_t comma = list.find(',', at);
    std::string item = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item.empty()) fail("LoRA targets \"{}\": an empty module name", list);
    out.push_back(item);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

bool is_lora_target(const std::string& name, const Tensor& t,
                    const std::vector<std::string>& targets) {
  const std::string module = linear_module(name, t);
  if (module.empty()) return false;
  for (const std::string& target : targets)
    if (matches(module, target)) return true;
  return false;
}

std::string peft_name(const std::string& module, char which) {
  return "base_model.model." + module + ".lora_" + which + ".weight";
}

LoraAdapters::LoraAdapters(const Parameters& model_params, const LoraSpec& spec) : spec_(spec) {
  if (spec.rank < 1) fail("LoRA rank must be at least 1, got {}", spec.rank);
  if (!(spec.alpha >= 0) || !std::isfinite(spec.alpha))
    fail("LoRA alpha must be a positive number, got {}", spec.alpha);
  if (!(spec.dropout >= 0 && spec.dropout < 1))
    fail("LoRA dropout must be in [0, 1), got {}", spec.dropout);
  if (spec.targets.empty()) fail("LoRA targets: none given");
  std::vector<bool> used(spec.targets.size(), false);
  const float std_a = 1.f / std::sqrt(static_cast<float>(spec.rank));
  for (const NamedTensor& e : model_params.all()) {
    if (e.buffer) continue;
    const std::string module = linear_module(e.name, e.tensor);
    if (module.empty()) continue;
    bool hit = false;
    for (size_t i = 0; i < spec.targets.size(); ++i)
      if (matches(module, spec.targets[i])) hit = used[i] = true;
    if (!hit) continue;
    LoraAdapter a;
    a.module = module;
    a.base = e.tensor;
    a.A = params_.add(peft_name(module, 'A'), {spec.rank, e.tensor.size(1)}, Init::normal(std_a));
    a.B = params_.add(peft_name(module, 'B'), {e.tensor.size(0), spec.rank}, Init::constant(0.f));
    by_base_[e.tensor.data()] = adapters_.size();
    adapters_.push_back(std::move(a));
  }
  for (size_t i = 0; i < used.size(); ++i)
    if (!used[i]) fail("LoRA target \"{}\" matches no Linear module of the model", spec.targets[i]);
}

const LoraAdapter* LoraAdapters::find(const Tensor& w) const {
  if (!w.defined()) return nullptr;
  const auto it = by_base_.find(w.data());
  return it == by_base_.end() ? nullptr : &adapters_[it->second];
}

std::vector<std::string> LoraAdapters::modules() const {
  std::vector<std::string> out;
  for (const LoraAdapter& a : adapters_) out.push_back(a.module);
  return out;
}

void freeze(const Parameters& p) {
  for (const NamedTensor& e : p.all()) {
    e.tensor.set_requires_grad(false);
    e.tensor.zero_grad();
  }
}

Tensor lora_down(ForwardContext& ctx, const Tensor& x, const LoraAdapter& a) {
  Tape& t = ctx.tape;
  const float p = static_cast<float>(ctx.lora->spec().dropout);
  Tensor in = x;
  if (ctx.training && p > 0.f) {
    TINYR2_CHECK(ctx.rng, "LoRA dropout in training needs ctx.rng");
    in = ops::dropout(t, x, p, *ctx.rng);
  }
  return ops::scale(t, ops::linear(t, in, a.A), ctx.lora->spec().scale());
}

Tensor lora_delta(ForwardContext& ctx, const Tensor& x, const LoraAdapter& a) {
  return ops::linear(ctx.tape, lora_down(ctx, x, a), a.B);
}

void merge_into_base(const LoraAdapters& adapters) {
  const double s = static_cast<double>(adapters.spec().scale());
  const int64_t r = adapters.spec().rank;
  for (const LoraAdapter& a : adapters.all()) {
    Tensor w = a.base;
    const int64_t out = w.size(0), in = w.size(1);
    const float* A = a.A.data();
    const float* B = a.B.data();
    float* W = w.data();
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double acc = 0;  // (B·A)[o, i], in double: the merge adds one rounding to W only
        for (int64_t k = 0; k < r; ++k)
          acc += static_cast<double>(B[o * r + k]) * static_cast<double>(A[k * in + i]);
        W[o * in + i] = static_cast<float>(static_cast<double>(W[o * in + i]) + s * acc);
      }
  }
}

}  // namespace tinyr2::nn
