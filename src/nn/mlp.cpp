#include "nn/mlp.h"

#include "autograd/ops.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

MLP::MLP(Parameters& p, const std::string& prefix, int64_t dim, int64_t hidden, float dropout,
         float init_std)
    : c_fc(p.add(prefix + "c_fc.weight", {hidden, dim}, Init::normal(init_std))),
      c_proj(p.add(prefix + "c_proj.weight", {dim, hidden}, Init::normal(init_std))),
      dropout_(dropout) {}

Tensor MLP::forward(ForwardContext& ctx, const Tensor& x) const {
  Tape& t = ctx.tape;
  Tensor y = linear(ctx, ops::relu2(t, linear(ctx, x, c_fc)), c_proj);
  if (ctx.training && dropout_ > 0.f) y = ops::dropout(t, y, dropout_, *ctx.rng);
  return y;
}

}  // namespace tinyr2::nn
