// One transformer block (SPEC §2): an attention branch and an FFN branch, each pre-normed
// and wrapped in hyper-connections (or a plain residual when there is one stream).
#pragma once

#include <memory>
#include <string>

#include "nn/config.h"
#include "nn/full_attention.h"
#include "nn/hyper_connection.h"
#include "nn/mlp.h"
#include "nn/moe.h"
#include "nn/rmsnorm.h"
#include "nn/sparse_attention.h"

namespace tinyr2::nn {

class Block {
 public:
  Block(Parameters& p, int64_t index, const ModelConfig& cfg);
  // Streams R (N,S,C) with hyper-connections, else x (B,T,C); `btc` is (B,T,C).
  Tensor forward(ForwardContext& ctx, const Tensor& R, const Shape& btc) const;

  Tensor attention(ForwardContext& ctx, const Tensor& x) const;  // attn(rm1(x))
  Tensor ffn(ForwardContext& ctx, const Tensor& x) const;        // ffn(rm2(x))

  int64_t index;
  RMSNorm rm1, rm2;
  std::unique_ptr<FullAttention> full_attn;
  std::unique_ptr<SparseAttention> sparse_attn;
  std::unique_ptr<MLP> mlp;
  std::unique_ptr<DSMoE> moe;
  std::unique_ptr<HyperConnection> hc_attn, hc_ffn;
};

}  // namespace tinyr2::nn
