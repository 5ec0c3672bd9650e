#include "optim/muon.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>
#include <vector>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::optim {

namespace {
const std::string kPrefix = "muon.";
const std::string kMomentum = ".momentum_buffer";
}  // namespace

std::pair<int64_t, int64_t> muon_matrix_shape(const Tensor& p) {
  TINYR2_CHECK(p.dim() >= 2, "Muon needs a tensor with >= 2 dims, got shape {}",
               shape_str(p.shape()));
  const int64_t rows = p.size(0);
  return {rows, rows == 0 ? 0 : p.numel() / rows};
}

namespace {
// X = NS_steps(u / (‖u‖_F + eps)) in place or into out, its products in `precision`.
void run_newton_schulz(const kernels::Backend& kern, MatmulPrecision precision, const float* u,
                       float* out, int64_t rows, int64_t cols, int steps) {
  if (precision.bf16)  // SPEC §13: bf16 operands, fp32 accumulation
    kern.newton_schulz_bf16(precision.native, u, out, rows, cols, steps,
                            kernels::NewtonSchulzCoeffs{}, 1e-7f);
  else
    kern.newton_schulz(u, out, rows, cols, steps, kernels::NewtonSchulzCoeffs{}, 1e-7f);
}
}  // namespace

Tensor newton_schulz(const Tensor& g, int steps, MatmulPrecision precision) {
  const auto [rows, cols] = muon_matrix_shape(g);
  Tensor out = Tensor::empty(g.shape());
  run_newton_schulz(kernels::backend(g.device()), precision, g.data(), out.data(), rows, cols,
                    steps);
  return out;
}

Muon::Muon(NamedParams params, MuonConfig config) : params_(std::move(params)), config_(config) {
  TINYR2_CHECK(config_.momentum >= 0 && config_.momentum < 1, "Muon momentum {} not in [0, 1)",
               config_.momentum);
  TINYR2_CHECK(config_.weight_decay >= 0, "Muon weight decay {} < 0", config_.weight_decay);
  TINYR2_CHECK(config_.ns_steps >= 0, "Muon ns_steps {} < 0", config_.ns_steps);
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    TINYR2_CHECK(p.defined(), "Muon parameter {} is undefined", name);
    TINYR2_CHECK(p.dim() >= 2, "Muon parameter {} has shape {}: Muon needs >= 2 dims", name,
                 shape_str(p.shape()));
    TINYR2_CHECK(names.insert(name).second, "Muon parameter {} given twice", name);
    momentum_.push_back(Tensor::zeros(p.shape()));
  }
}

// The parameters are independent, so the step runs one work item per parameter (largest
// Newton–Schulz first, dynamically scheduled): many small matrices keep every thread busy,
// where splitting each small syrk/gemm across the threads would not (Muon's products are
// ≤ 1024 wide at the default sizes). Inside an item the kernels run on its one thread
// (OpenMP regions nested in this one are inactive, and OpenBLAS runs single-threaded inside
// a parallel region), so a parameter's update is the same arithmetic whatever the thread
// count: results are bit-identical across thread counts and runs.
void Muon::step(double lr) {
  step(lr, std::vector<uint8_t>(params_.size(), 1));
}

void Muon::step(double lr, const std::vector<uint8_t>& orthogonalise) {
  TINYR2_CHECK(orthogonalise.size() == params_.size(), "Muon::step: {} flags for {} parameters",
               orthogonalise.size(), params_.size());
  const float beta = static_cast<float>(config_.momentum);
  const float one_minus_beta = static_cast<float>(1.0 - config_.momentum);
  std::vector<size_t> items;  // parameters with a gradient, their shapes checked here
  for (size_t k = 0; k < params_.size(); ++k) {
    const Tensor& param = params_[k].second;
    const Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    TINYR2_CHECK(grad.shape() == param.shape(), "Muon parameter {}: grad shape {} != {}",
                 params_[k].first, shape_str(grad.shape()), shape_str(param.shape()));
    items.push_back(k);
  }
  auto cost = [&](size_t k) {  // ∝ Newton–Schulz FLOPs: numel · small side (momentum alone: 0)
    const auto [rows, cols] = muon_matrix_shape(params_[k].second);
    return orthogonalise[k] ? static_cast<double>(rows) * cols * std::min(rows, cols) : 0.0;
  };
  std::stable_sort(items.begin(), items.end(),
                   [&](size_t a, size_t b) { return cost(a) > cost(b); });

  const int64_t n_items = static_cast<int64_t>(items.size());
  // An exception must not leave the parallel region: each item keeps its own, and the first
  // one (in item order) is rethrown after the loop.
  std::vector<std::exception_ptr> errors(items.size());
#pragma omp parallel for schedule(dynamic, 1) if (n_items > 1)
  for (int64_t i = 0; i < n_items; ++i) try {
      const size_t k = items[static_cast<size_t>(i)];
      Tensor param = params_[k].second;  // a handle: updated in place
      const Tensor& grad = param.grad();
      const kernels::Backend& kern = kernels::backend(param.device());
      const int64_t n = param.numel();
      std::vector<float> update(static_cast<size_t>(n));
      float* u = update.data();

      // m ← β m + (1 − β) g;  u = (1 − β) g + β m
      kern.muon_momentum(grad.data(), momentum_[k].data(), u, n, beta, one_minus_beta);
      if (!orthogonalise[k]) continue;  // another rank orthogonalises and updates this one

      // X = NS5(u / (‖u‖_F + 1e-7)), in place.
      const auto [rows, cols] = muon_matrix_shape(param);
      run_newton_schulz(kern, config_.precision, u, u, rows, cols, config_.ns_steps);

      // p ← p (1 − lr wd) − lr sqrt(max(1, rows/cols)) X
      const double scale = std::sqrt(std::max(1.0, static_cast<double>(rows) / cols));
      const float decay = static_cast<float>(1.0 - lr * config_.weight_decay);
      const float alpha = static_cast<float>(lr * scale);
      kern.scaled_update(param.data(), u, n, decay, alpha);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

std::map<std::string, Tensor> Muon::state_dict() const {
  std::map<std::string, Tensor> state;
  for (size_t k = 0; k < params_.size(); ++k)
    state[kPrefix + params_[k].first + kMomentum] = momentum_[k];
  return state;
}

void Muon::load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source) {
  std::map<std::string, Tensor> mine = state_dict();  // our handles: copy into them
  for (const auto& [key, t] : state)
    if (key.rfind(kPrefix, 0) == 0 && !mine.count(key))
      fail("{}: unexpected optimizer state \"{}\" (no such Muon parameter)", source, key);
  for (const auto& [key, buffer] : mine) {
    auto it = state.find(key);
    if (it == state.end()) fail("{}: missing optimizer state \"{}\"", source, key);
    if (it->second.shape() != buffer.shape())
      fail("{}: optimizer state \"{}\" has shape {}, expected {}", source, key,
           shape_str(it->second.shape()), shape_str(buffer.shape()));
  }
  for (auto& [key, buffer] : mine) buffer.copy_from(state.at(key));
}

}  // namespace tinyr2::optim
