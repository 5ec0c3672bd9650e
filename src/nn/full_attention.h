// FULL causal attention (SPEC §2.1): q,k,v = split(c_attn x), H heads of C/H, scale
// 1/sqrt(C/H), no RoPE; optional value residual across FULL layers.
#pragma once

#include <array>
#include <string>

#include "infer/kv_cache.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

class FullAttention {
 public:
  FullAttention(Parameters& p, const std::string& prefix, const ModelConfig& cfg);
  Tensor forward(ForwardContext& ctx, const Tensor& x) const;  // x (B,T,C) → (B,T,C)
  // Decoding (SPEC §7): x_new (1,Tn,C) holds positions pos0 … pos0+Tn−1 with pos0 =
  // cache.k.rows(); their k and v (v after the value residual) are appended to the cache and
  // the queries attend causally over every cached position. Same ops as forward.
  Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, infer::FullAttentionCache& cache) const;
  Tensor c_attn, c_proj, lamb1, lamb2;

 private:
  // q, k, v (B,T,H,C/H) of x, v after the value residual (which sets or reads ctx.v_first).
  std::array<Tensor, 3> qkv(ForwardContext& ctx, const Tensor& x) const;
  // c_proj(merge_heads(y)) with dropout in training; y (B,T,H,C/H) → (B,T,C).
  Tensor output(ForwardContext& ctx, const Tensor& y) const;

  int64_t C_, H_;
  bool v_residual_;
  float dropout_;
};

}  // namespace tinyr2::nn
