// The LoRA terms of nn::stacked_linear's outputs (SPEC §12 on the NSA / MLA projections).
//
// An output is the stacked rows of several weights, RoPE'd per head on its last rope_dim
// entries. RoPE is linear, so RoPE(W x + Δx) = RoPE(W x) + RoPE(Δx): the adapted parts'
// terms go through the same op, as one more stacked product of U = [u_1 ‖ … ‖ u_k]
// (u_j = (a/r)·A_j(drop(x)), the adapters of the output's weights) with rows of
// [0 … B_j … 0] (B_j placed at u_j's columns; zero rows for a part without adapter).
#include <map>

#include "autograd/ops.h"
#include "nn/lora.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

void add_lora_stacked(ForwardContext& ctx, const Tensor& x,
                      const std::vector<ops::StackedOutput>& outputs,
                      const std::shared_ptr<const ops::RopeTable>& rope, std::vector<Tensor>& y) {
  Tape& t = ctx.tape;
  for (size_t o = 0; o < outputs.size(); ++o) {
    const ops::StackedOutput& out = outputs[o];
    std::vector<const LoraAdapter*> adapters;
    std::map<const LoraAdapter*, int64_t> column;  // u_j's first column in U
    int64_t width = 0;
    for (const ops::WeightRows& p : out.parts)
      if (const LoraAdapter* a = lora_of(ctx, p.weight); a && !column.count(a)) {
        column[a] = width;
        width += a->A.size(0);
        adapters.push_back(a);
      }
    if (adapters.empty()) continue;
    std::vector<Tensor> u;
    for (const LoraAdapter* a : adapters) u.push_back(lora_down(ctx, x, *a));
    const Tensor U = u.size() == 1 ? u[0] : ops::concat(t, u, -1);
    std::map<const LoraAdapter*, Tensor> padded;  // (out, width): [0 ‖ B_j ‖ 0]
    for (const LoraAdapter* a : adapters) {
      const int64_t rows = a->B.size(0), at = column[a], r = a->B.size(1);
      std::vector<Tensor> pieces;
      if (at > 0) pieces.push_back(Tensor::zeros({rows, at}));
      pieces.push_back(a->B);
      if (at + r < width) pieces.push_back(Tensor::zeros({rows, width - at - r}));
      padded[a] = pieces.size() == 1 ? a->B : ops::concat(t, pieces, -1);
    }
    ops::StackedOutput delta{{}, out.rope_heads, out.rope_dim};
    for (const ops::WeightRows& p : out.parts) {
      if (const LoraAdapter* a = lora_of(ctx, p.weight))
        delta.parts.push_back({padded[a], p.begin, p.end});
      else
        delta.parts.push_back({Tensor::zeros({p.end - p.begin, width}), 0, p.end - p.begin});
    }
    y[o] = ops::add(t, y[o], ops::stacked_linear(t, U, {delta}, rope)[0]);
  }
}

}  // namespace tinyr2::nn
