#include "nn/rmsnorm.h"

#include "autograd/ops.h"

namespace tinyr2::nn {

RMSNorm::RMSNorm(Parameters& p, const std::string& prefix, int64_t dim, double eps)
    : weight(p.add(prefix + "weight", {dim}, Init::constant(1.f))), eps_(static_cast<float>(eps)) {}

Tensor RMSNorm::forward(ForwardContext& ctx, const Tensor& x) const {
  return ops::rmsnorm(ctx.tape, x, weight, eps_);
}

}  // namespace tinyr2::nn
