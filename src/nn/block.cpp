#include "nn/block.h"

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/mixer_factory.h"

namespace tinyr2::nn {

Block::Block(Parameters& p, int64_t i, const ModelConfig& cfg)
    : index(i),
      rm1(p, "blocks." + std::to_string(i) + ".rm1.", cfg.n_embd, cfg.norm_eps),
      rm2(p, "blocks." + std::to_string(i) + ".rm2.", cfg.n_embd, cfg.norm_eps) {
  const std::string prefix = "blocks." + std::to_string(i) + ".";
  attn = make_sequence_mixer(p, prefix + "attn.", cfg, i);
  if (cfg.ffn_type(i) == FfnType::Mlp)
    mlp = std::make_unique<MLP>(p, prefix + "ffn.", cfg.n_embd, 4 * cfg.n_embd,
                                static_cast<float>(cfg.dropout), static_cast<float>(cfg.init_std));
  else if (cfg.ffn_type(i) == FfnType::Glu)  // SPEC §11
    glu = std::make_unique<GLU>(p, prefix + "ffn.", cfg.n_embd, cfg.glu_hidden_size(),
                                cfg.glu_activation, static_cast<float>(cfg.dropout));
  else
    moe = std::make_unique<DSMoE>(p, prefix + "ffn.", cfg);
  if (cfg.streams() > 1) {
    hc_attn = std::make_unique<HyperConnection>(p, prefix + "hc_attn.", cfg, 2 * i);
    hc_ffn = std::make_unique<HyperConnection>(p, prefix + "hc_ffn.", cfg, 2 * i + 1);
  }
}

Tensor Block::attention(ForwardContext& ctx, const Tensor& x) const {
  const Tensor h = rm1.forward(ctx, x);
  return attn->forward(ctx, h);
}

Tensor Block::ffn(ForwardContext& ctx, const Tensor& x) const {
  const Tensor h = rm2.forward(ctx, x);
  if (glu) return glu->forward(ctx, h);
  return mlp ? mlp->forward(ctx, h) : moe->forward(ctx, h);
}

Tensor Block::attention_cached(ForwardContext& ctx, const Tensor& x, MixerState& state,
                               int64_t pos0) const {
  return attn->forward_cached(ctx, rm1.forward(ctx, x), state, pos0);
}

Tensor Block::wire(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                   const std::function<Tensor(const Tensor&)>& mixer) const {
  Tape& t = ctx.tape;
  if (!hc_attn) {  // plain pre-norm residual
    const Tensor x = ops::add(t, R, mixer(R));
    return ops::add(t, x, ffn(ctx, x));
  }
  const Tensor R1 = hc_attn->forward(ctx, R, btc, mixer);
  return hc_ffn->forward(ctx, R1, btc, [&](const Tensor& u) { return ffn(ctx, u); });
}

Tensor Block::forward(ForwardContext& ctx, const Tensor& R, const Shape& btc) const {
  return wire(ctx, R, btc, [&](const Tensor& u) { return attention(ctx, u); });
}

Tensor Block::forward_cached(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                             MixerState& state, int64_t pos0) const {
  return wire(ctx, R, btc, [&](const Tensor& u) { return attention_cached(ctx, u, state, pos0); });
}

Tensor Block::forward_cached_batch(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                                   const std::vector<MixerState*>& states,
                                   const std::vector<int64_t>& pos) const {
  return wire(ctx, R, btc, [&](const Tensor& u) {
    return attn->forward_cached_batch(ctx, rm1.forward(ctx, u), states, pos);
  });
}

}  // namespace tinyr2::nn
