// FULL causal attention (SPEC §2.1): q,k,v = split(c_attn x), H heads of C/H, scale
// 1/sqrt(C/H), no RoPE; optional value residual across FULL layers.
#pragma once

#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class FullAttention {
 public:
  FullAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (B,T,C) → (B,T,C)
  Tensor c_attn, c_proj, lamb1, lamb2;

 private:
  int64_t C_, H_;
  bool v_residual_;
  float dropout_;
};

}  // namespace tinyr2::nn
