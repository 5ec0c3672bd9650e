#include "nn/lora_recompute.h"

#include <algorithm>
#include <optional>

#include "core/error.h"

namespace tinyr2::nn {

namespace {

// t's gradient += g (t's grad buffer is allocated on first use).
void seed_grad(const Tensor& t, const Tensor& g) {
  float beta = 1.f;
  float* d = t.grad_accumulator(beta);
  const float* s = g.data();
  if (beta == 0.f)
    std::copy(s, s + g.numel(), d);
  else
    for (int64_t i = 0; i < g.numel(); ++i) d[i] += s[i];
}

}  // namespace

bool lora_recomputes(const ForwardContext& ctx, size_t block, size_t n_blocks) {
  // The last block is kept: backward starts with it, so a recomputation would rebuild its
  // activations right away, for the cost of one more forward of it and no memory saved.
  if (block + 1 >= n_blocks) return false;
  // Not with block marks: data-parallel training posts gradient buckets as backward passes
  // each block's nodes (train/distributed.h), so those blocks keep their nodes.
  return ctx.lora && ctx.training && ctx.tape.grad_enabled() && !ctx.block_marks;
}

Tensor recomputed_block(ForwardContext& ctx, const Block& b, const Tensor& R, const Shape& btc) {
  Tape& tape = ctx.tape;
  const std::optional<Rng> rng_before = ctx.rng ? std::optional<Rng>(*ctx.rng) : std::nullopt;
  const Tensor v_before = ctx.v_first;
  const size_t n_bal = ctx.balance_losses.size();
  Tensor out;
  {
    NoGradGuard no_grad(tape);
    out = b.forward(ctx, R, btc);
  }
  // An MoE block's balance loss (one scalar) joins the model's loss after every block: its
  // value stands in for it and collects its gradient, which the recomputation seeds.
  std::vector<Tensor> bal_stand_ins(ctx.balance_losses.begin() + static_cast<ptrdiff_t>(n_bal),
                                    ctx.balance_losses.end());
  for (const Tensor& s : bal_stand_ins) s.set_requires_grad(true);
  // The block produced v_first: the later layers get a stand-in that collects its gradient.
  Tensor v_stand_in;
  if (!v_before.defined() && ctx.v_first.defined()) {
    v_stand_in = ctx.v_first;
    v_stand_in.set_requires_grad(true);
  }
  tape.record({out}, [&b, R, btc, out, v_before, v_stand_in, bal_stand_ins, rng_before,
                      precision = tape.matmul_precision(), training = ctx.training,
                      gate_noise = ctx.gate_noise, lora = ctx.lora, q = ctx.quantized]() {
    Tape sub;
    sub.set_matmul_precision(precision);
    ForwardContext c(sub);
    c.training = training;
    c.gate_noise = gate_noise;
    std::optional<Rng> rng = rng_before;
    c.rng = rng ? &*rng : nullptr;
    c.v_first = v_before;
    c.lora = lora;
    c.quantized = q;
    c.replay = true;
    const Tensor y = b.forward(c, R, btc);
    if (v_stand_in.defined() && v_stand_in.grad().defined()) {
      TINYR2_CHECK(c.v_first.defined() && c.v_first.requires_grad() &&
                       c.v_first.numel() == v_stand_in.numel(),
                   "recomputed block: v_first differs from the forward's");
      seed_grad(c.v_first, v_stand_in.grad());
    }
    TINYR2_CHECK(c.balance_losses.size() == bal_stand_ins.size(),
                 "recomputed block: {} balance losses, the forward had {}", c.balance_losses.size(),
                 bal_stand_ins.size());
    for (size_t i = 0; i < bal_stand_ins.size(); ++i)
      if (bal_stand_ins[i].grad().defined())
        seed_grad(c.balance_losses[i], bal_stand_ins[i].grad());
    sub.backward(y, out.grad());
  });
  return out;
}

}  // namespace tinyr2::nn
