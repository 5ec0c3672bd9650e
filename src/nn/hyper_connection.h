// Hyper-connections around one branch (SPEC §2.5): static mHC (Sinkhorn or
// orthostochastic H_res) or dynamic HC. The S residual streams are one tensor R (N, S, C)
// with N = B·T tokens.
#pragma once

#include <functional>
#include <string>

#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class HyperConnection {
 public:
  // layer_index = 2i for the attention branch of block i, 2i+1 for its FFN branch.
  HyperConnection(Parameters& p, const std::string& prefix, const ModelConfig& cfg,
                  int64_t layer_index);
  using Branch = std::function<Tensor(const Tensor&)>;  // (B,T,C) → (B,T,C)
  // R (N,S,C) → R' (N,S,C); `btc` is the branch's (B,T,C) shape.
  Tensor forward(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                 const Branch& branch) const;

  // mHC
  Tensor H_res_logits, H_pre_logits, H_post_logits;
  // dynamic HC
  Tensor static_alpha, dynamic_alpha_fn, dynamic_alpha_scale, static_beta, dynamic_beta_fn,
      dynamic_beta_scale, norm_gamma;

 private:
  bool mhc_;
  HResProj proj_;
  int64_t S_, C_;
  double tau_, ns_eps_;
  int64_t sinkhorn_iters_, ns_steps_;
  std::array<double, 3> ns_coeffs_;
};

}  // namespace tinyr2::nn
