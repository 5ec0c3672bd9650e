#include "optim/adamw.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::optim {

namespace {
const std::string kPrefix = "adamw.";
}  // namespace

bool is_ssm_dynamics_param(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with(".A_log") || ends_with(".attn.D") ||
         name.find(".attn.conv1d.") != std::string::npos ||
         name.find(".attn.dt_proj.") != std::string::npos;
}

bool adamw_decays(const std::string& name, const Tensor& p) {
  return adamw_decays(p) && !is_ssm_dynamics_param(name);
}

bool adamw_decays(const Tensor& p) {
  return p.dim() >= 2;
}

AdamW::AdamW(NamedParams params, AdamWConfig config) : params_(std::move(params)), config_(config) {
  TINYR2_CHECK(config_.beta1 >= 0 && config_.beta1 < 1, "AdamW beta1 {} not in [0, 1)",
               config_.beta1);
  TINYR2_CHECK(config_.beta2 >= 0 && config_.beta2 < 1, "AdamW beta2 {} not in [0, 1)",
               config_.beta2);
  TINYR2_CHECK(config_.eps > 0, "AdamW eps {} <= 0", config_.eps);
  TINYR2_CHECK(config_.weight_decay >= 0, "AdamW weight decay {} < 0", config_.weight_decay);
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    TINYR2_CHECK(p.defined(), "AdamW parameter {} is undefined", name);
    TINYR2_CHECK(names.insert(name).second, "AdamW parameter {} given twice", name);
    state_.push_back({Tensor::zeros(p.shape()), Tensor::zeros(p.shape()), Tensor::scalar(0.f)});
  }
}

void AdamW::step(double lr) {
  kernels::AdamWStep scalars;
  scalars.b1 = static_cast<float>(config_.beta1);
  scalars.b2 = static_cast<float>(config_.beta2);
  scalars.one_minus_b1 = static_cast<float>(1.0 - config_.beta1);
  scalars.one_minus_b2 = static_cast<float>(1.0 - config_.beta2);
  scalars.eps = static_cast<float>(config_.eps);
  for (size_t k = 0; k < params_.size(); ++k) {
    const std::string& name = params_[k].first;
    Tensor param = params_[k].second;  // a handle: updated in place
    const Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    TINYR2_CHECK(grad.shape() == param.shape(), "AdamW parameter {}: grad shape {} != {}", name,
                 shape_str(grad.shape()), shape_str(param.shape()));
    State& s = state_[k];
    const double t = s.step.item() + 1.0;
    s.step.fill(static_cast<float>(t));

    scalars.decay =
        adamw_decays(name, param) ? static_cast<float>(1.0 - lr * config_.weight_decay) : 1.f;
    scalars.step_size = static_cast<float>(lr / (1.0 - std::pow(config_.beta1, t)));
    scalars.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(config_.beta2, t)));
    kernels::backend(param.device())
        .adamw_update(param.data(), grad.data(), s.exp_avg.data(), s.exp_avg_sq.data(),
                      param.numel(), scalars);
  }
}

std::map<std::string, Tensor> AdamW::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t k = 0; k < params_.size(); ++k) {
    const std::string base = kPrefix + params_[k].first;
    out[base + ".exp_avg"] = state_[k].exp_avg;
    out[base + ".exp_avg_sq"] = state_[k].exp_avg_sq;
    out[base + ".step"] = state_[k].step;
  }
  return out;
}

void AdamW::load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source) {
  std::map<std::string, Tensor> mine = state_dict();  // our handles: copy into them
  for (const auto& [key, t] : state)
    if (key.rfind(kPrefix, 0) == 0 && !mine.count(key))
      fail("{}: unexpected optimizer state \"{}\" (no such AdamW parameter)", source, key);
  for (const auto& [key, buffer] : mine) {
    auto it = state.find(key);
    if (it == state.end()) fail("{}: missing optimizer state \"{}\"", source, key);
    if (it->second.shape() != buffer.shape())
      fail("{}: optimizer state \"{}\" has shape {}, expected {}", source, key,
           shape_str(it->second.shape()), shape_str(buffer.shape()));
    if (key.ends_with(".step")) {
      const float t = it->second.item();
      if (!(t >= 0.f) || t != std::floor(t))
        fail("{}: optimizer state \"{}\" = {} is not a step count", source, key, t);
    }
  }
  for (auto& [key, buffer] : mine) buffer.copy_from(state.at(key));
}

}  // namespace tinyr2::optim
