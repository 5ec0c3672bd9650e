#include "optim/grad_clip.h"

#include <cmath>

#include "kernels/backend.h"

namespace tinyr2::optim {

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0.0;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (g.defined()) total += kernels::backend(g.device()).sum_squares(g.data(), g.numel());
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  const double norm = grad_norm(params);
  if (!std::isfinite(norm) || max_norm <= 0 || norm <= max_norm) return norm;
  const float scale = static_cast<float>(max_norm / (norm + 1e-6));
  for (const Tensor& p : params) {
    Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    kernels::backend(g.device()).scale_in_place(g.data(), g.numel(), scale);
  }
  return norm;
}

double clip_grad_norm(const NamedParams& params, double max_norm) {
  std::vector<Tensor> tensors;
  tensors.reserve(params.size());
  for (const auto& [name, p] : params) tensors.push_back(p);
  return clip_grad_norm(tensors, max_norm);
}

}  // namespace tinyr2::optim
