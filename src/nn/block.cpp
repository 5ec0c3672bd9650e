#include "nn/block.h"

#include "autograd/ops.h"
#include "core/error.h"

namespace tinyr2::nn {

Block::Block(Parameters& p, int64_t i, const ModelConfig& cfg)
    : index(i),
      rm1(p, "blocks." + std::to_string(i) + ".rm1.", cfg.n_embd, cfg.norm_eps),
      rm2(p, "blocks." + std::to_string(i) + ".rm2.", cfg.n_embd, cfg.norm_eps) {
  const std::string prefix = "blocks." + std::to_string(i) + ".";
  if (cfg.attention_type(i) == AttentionType::Full) {
    full_attn = std::make_unique<FullAttention>(p, prefix + "attn.", cfg);
  } else {
    sparse_attn = std::make_unique<SparseAttention>(p, prefix + "attn.", cfg, cfg.branches(i));
  }
  if (cfg.ffn_type(i) == FfnType::Mlp)
    mlp = std::make_unique<MLP>(p, prefix + "ffn.", cfg.n_embd, 4 * cfg.n_embd,
                                static_cast<float>(cfg.dropout), static_cast<float>(cfg.init_std));
  else
    moe = std::make_unique<DSMoE>(p, prefix + "ffn.", cfg);
  if (cfg.streams() > 1) {
    hc_attn = std::make_unique<HyperConnection>(p, prefix + "hc_attn.", cfg, 2 * i);
    hc_ffn = std::make_unique<HyperConnection>(p, prefix + "hc_ffn.", cfg, 2 * i + 1);
  }
}

Tensor Block::attention(ForwardContext& ctx, const Tensor& x) const {
  const Tensor h = rm1.forward(ctx, x);
  return full_attn ? full_attn->forward(ctx, h) : sparse_attn->forward(ctx, h);
}

Tensor Block::ffn(ForwardContext& ctx, const Tensor& x) const {
  const Tensor h = rm2.forward(ctx, x);
  return mlp ? mlp->forward(ctx, h) : moe->forward(ctx, h);
}

Tensor Block::forward(ForwardContext& ctx, const Tensor& R, const Shape& btc) const {
  Tape& t = ctx.tape;
  if (!hc_attn) {  // plain pre-norm residual
    const Tensor x = ops::add(t, R, attention(ctx, R));
    return ops::add(t, x, ffn(ctx, x));
  }
  const Tensor R1 = hc_attn->forward(ctx, R, btc, [&](const Tensor& u) { return attention(ctx, u); });
  return hc_ffn->forward(ctx, R1, btc, [&](const Tensor& u) { return ffn(ctx, u); });
}

}  // namespace tinyr2::nn
