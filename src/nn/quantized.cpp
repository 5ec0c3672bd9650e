#include "nn/quantized.h"

#include "autograd/ops_lora.h"
#include "nn/lora.h"

namespace tinyr2::nn {

const kernels::QuantizedMatrix* QuantizedWeights::find(const Tensor& w) const {
  if (!w.defined() || by_tensor.empty()) return nullptr;
  const auto it = by_tensor.find(w.data());
  return it == by_tensor.end() ? nullptr : &it->second;
}

kernels::QuantPath quant_path_for(const cpu::CpuFeatures& f) {
  return kernels::quant_path_for(f);
}

Tensor linear(ForwardContext& ctx, const Tensor& x, const Tensor& w) {
  const kernels::QuantizedMatrix* q = quantized(ctx, w);
  const LoraAdapter* a = lora_of(ctx, w);
  if (a && !q)  // SPEC §12: W x + (a/r)·B(A(drop(x))), one output (autograd/ops_lora.h)
    return ops::linear_low_rank(ctx.tape, x, w, lora_down(ctx, x, *a), a->B);
  Tensor y =
      q ? ops::quant_linear(ctx.tape, x, *q, ctx.quantized->path) : ops::linear(ctx.tape, x, w);
  if (a) y = ops::add(ctx.tape, y, lora_delta(ctx, x, *a));
  return y;
}

std::vector<Tensor> stacked_linear(ForwardContext& ctx, const Tensor& x,
                                   const std::vector<ops::StackedOutput>& outputs,
                                   std::shared_ptr<const ops::RopeTable> rope) {
  std::vector<Tensor> y = stacked_linear_base(ctx, x, outputs, rope);
  if (ctx.lora) add_lora_stacked(ctx, x, outputs, rope, y);  // nn/lora_stacked.cpp
  return y;
}

std::vector<Tensor> stacked_linear_base(ForwardContext& ctx, const Tensor& x,
                                        const std::vector<ops::StackedOutput>& outputs,
                                        std::shared_ptr<const ops::RopeTable> rope) {
  bool any = false;
  for (const ops::StackedOutput& o : outputs)
    for (const ops::WeightRows& p : o.parts) any = any || quantized(ctx, p.weight) != nullptr;
  if (!any) return ops::stacked_linear(ctx.tape, x, outputs, std::move(rope));
  std::vector<ops::QuantStackedOutput> q;
  for (const ops::StackedOutput& o : outputs) {
    ops::QuantStackedOutput qo{{}, o.rope_heads, o.rope_dim};
    for (const ops::WeightRows& p : o.parts)
      qo.parts.push_back({quantized(ctx, p.weight), p.weight, p.begin, p.end});
    q.push_back(std::move(qo));
  }
  return ops::quant_stacked_linear(ctx.tape, x, q, std::move(rope), ctx.quantized->path);
}

}  // namespace tinyr2::nn
