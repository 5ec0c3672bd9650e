#include "optim/grad_clip.h"

#include <cmath>

#include "kernels/cpu/newton_schulz.h"  // sum_squares

namespace tinyr2::optim {

namespace {
constexpr int64_t kParallelWork = 1 << 15;  // below this, the scaling loop stays serial
}  // namespace

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0.0;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (g.defined()) total += kernels::cpu::sum_squares(g.data(), g.numel());
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
    float* x = g.data();
    const int64_t n = g.numel();
#pragma omp parallel for schedule(static) if (n > kParallelWork)
    for (int64_t i = 0; i < n; ++i) x[i] *= scale;
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
