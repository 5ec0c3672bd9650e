// RMSNorm (SPEC §2): y = x / sqrt(mean(x²) + eps) ⊙ weight, weight initialised to 1.
#pragma once

#include <string>

#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class RMSNorm {
 public:
  RMSNorm(Parameters& p, const std::string& prefix, int64_t dim, double eps);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;
  Tensor weight;

 private:
  float eps_;
};

}  // namespace tinyr2::nn
