#include "nn/lora_recompute.h"

#include <algorithm>
#include <optional>

#include "core/error.h"

namespace tinyr2::nn {

bool lora_recomputes(const ForwardContext& ctx, const Block& b) {
  // Not with block marks: data-parallel training posts gradient buckets as backward passes
  // each block's nodes (train/distributed.h), so those blocks keep their nodes.
  return ctx.lora && ctx.training && ctx.tape.grad_enabled() && !b.moe && !ctx.block_marks;
}

Tensor recomputed_block(ForwardContext& ctx, const Block& b, const Tensor& R, const Shape& btc) {
  Tape& tape = ctx.tape;
  const std::optional<Rng> rng_before = ctx.rng ? std::optional<Rng>(*ctx.rng) : std::nullopt;
  const Tensor v_before = ctx.v_first;
  Tensor out;
  {
    NoGradGuard no_grad(tape);
    out = b.forward(ctx, R, btc);
  }
  // The block produced v_first: the later layers get a stand-in that collects its gradient.
  Tensor v_stand_in;
  if (!v_before.defined() && ctx.v_first.defined()) {
    v_stand_in = ctx.v_first;
    v_stand_in.set_requires_grad(true);
  }
  tape.record({out}, [&b, R, btc, out, v_before, v_stand_in, rng_before,
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
    const Tensor y = b.forward(c, R, btc);
    if (v_stand_in.defined() && v_stand_in.grad().defined()) {
      TINYR2_CHECK(c.v_first.defined() && c.v_first.requires_grad() &&
                       c.v_first.numel() == v_stand_in.numel(),
                   "recomputed block: v_first differs from the forward's");
      float beta = 1.f;
      float* g = c.v_first.grad_accumulator(beta);
      const float* s = v_stand_in.grad().data();
      if (beta == 0.f)
        std::copy(s, s + v_stand_in.numel(), g);
      else
        for (int64_t i = 0; i < v_stand_in.numel(); ++i) g[i] += s[i];
    }
    sub.backward(y, out.grad());
  });
  return out;
}

}  // namespace tinyr2::nn
