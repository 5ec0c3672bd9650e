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

Tensor Block::attention_cached(ForwardContext& ctx, const Tensor& x, infer::LayerCache& cache,
                               int64_t pos0) const {
  const Tensor h = rm1.forward(ctx, x);
  if (full_attn) {
    auto* c = std::get_if<infer::FullAttentionCache>(&cache);
    TINYR2_CHECK(c, "block {}: FULL layer given a Sparse cache", index);
    TINYR2_CHECK(c->k.rows() == pos0, "block {}: cache holds {} positions, not {}", index, c->k.rows(), pos0);
    return full_attn->forward_cached(ctx, h, *c);
  }
  auto* c = std::get_if<infer::SparseAttentionCache>(&cache);
  TINYR2_CHECK(c, "block {}: Sparse layer given a FULL cache", index);
  return sparse_attn->forward_cached(ctx, h, *c, pos0);
}

Tensor Block::wire(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                   const std::function<Tensor(const Tensor&)>& attn) const {
  Tape& t = ctx.tape;
  if (!hc_attn) {  // plain pre-norm residual
    const Tensor x = ops::add(t, R, attn(R));
    return ops::add(t, x, ffn(ctx, x));
  }
  const Tensor R1 = hc_attn->forward(ctx, R, btc, attn);
  return hc_ffn->forward(ctx, R1, btc, [&](const Tensor& u) { return ffn(ctx, u); });
}

Tensor Block::forward(ForwardContext& ctx, const Tensor& R, const Shape& btc) const {
  return wire(ctx, R, btc, [&](const Tensor& u) { return attention(ctx, u); });
}

Tensor Block::forward_cached(ForwardContext& ctx, const Tensor& R, const Shape& btc, infer::LayerCache& cache,
                             int64_t pos0) const {
  return wire(ctx, R, btc, [&](const Tensor& u) { return attention_cached(ctx, u, cache, pos0); });
}

}  // namespace tinyr2::nn
