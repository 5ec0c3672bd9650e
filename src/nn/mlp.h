// The MLP (SPEC §2.4) and every DSMoE expert: c_proj(relu(c_fc x)²).
#pragma once

#include <string>

#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class MLP {
 public:
  MLP(Parameters& p, const std::string& prefix, int64_t dim, int64_t hidden, float dropout,
      float init_std);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (..., C)
  float dropout() const { return dropout_; }
  Tensor c_fc, c_proj;

 private:
  float dropout_;
};

}  // namespace tinyr2::nn
