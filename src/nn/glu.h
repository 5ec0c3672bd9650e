// The GLU feed-forward (SPEC §11, seed 002's DenseMLP): c_proj(act(c_gate x) ⊙ c_up x), used
// as a block's FFN ("glu") and as every expert of a MoE layer with moe_expert "glu".
// Init (seed 002): sigmoid and bilinear Xavier normal std = sqrt(2/(fan_in+fan_out)), the
// ReLU family (relu, silu, gelu) Kaiming normal std = sqrt(2/fan_in).
#pragma once

#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

// The init std of a GLU Linear (fan_out, fan_in) for `act` (SPEC §11).
float glu_init_std(GluActivation act, int64_t fan_in, int64_t fan_out);

class GLU {
 public:
  GLU(Parameters& p, const std::string& prefix, int64_t dim, int64_t hidden, GluActivation act,
      float dropout);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (..., C)
  GluActivation activation() const { return act_; }
  float dropout() const { return dropout_; }
  Tensor c_gate, c_up, c_proj;

 private:
  GluActivation act_;
  float dropout_;
};

}  // namespace tinyr2::nn
