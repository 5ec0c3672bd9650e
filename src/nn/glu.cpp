#include "nn/glu.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

float glu_init_std(GluActivation act, int64_t fan_in, int64_t fan_out) {
  const bool xavier = act == GluActivation::Sigmoid || act == GluActivation::Bilinear;
  return static_cast<float>(xavier ? std::sqrt(2.0 / static_cast<double>(fan_in + fan_out))
                                   : std::sqrt(2.0 / static_cast<double>(fan_in)));
}

GLU::GLU(Parameters& p, const std::string& prefix, int64_t dim, int64_t hidden, GluActivation act,
         float dropout)
    : c_gate(p.add(prefix + "c_gate.weight", {hidden, dim},
                   Init::normal(glu_init_std(act, dim, hidden)))),
      c_up(p.add(prefix + "c_up.weight", {hidden, dim},
                 Init::normal(glu_init_std(act, dim, hidden)))),
      c_proj(p.add(prefix + "c_proj.weight", {dim, hidden},
                   Init::normal(glu_init_std(act, hidden, dim)))),
      act_(act),
      dropout_(dropout) {}

Tensor GLU::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  const int64_t H = c_gate.size(0);
  // c_gate and c_up as one product (ops::stacked_linear), then act(a) ⊙ b fused.
  const std::vector<Tensor> gu = stacked_linear(
      ctx, x, {ops::StackedOutput{{{c_gate, 0, H}}}, ops::StackedOutput{{{c_up, 0, H}}}});
  Tensor y = linear(ctx, ops::glu(t, gu[0], gu[1], act_), c_proj);
  if (ctx.training && dropout_ > 0.f) y = ops::dropout(t, y, dropout_, *ctx.rng);
  return y;
}

}  // namespace tinyr2::nn
