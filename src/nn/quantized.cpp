#include "nn/quantized.h"

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
  if (const kernels::QuantizedMatrix* q = quantized(ctx, w))
    return ops::quant_linear(ctx.tape, x, *q, ctx.quantized->path);
  return ops::linear(ctx.tape, x, w);
}

std::vector<Tensor> stacked_linear(ForwardContext& ctx, const Tensor& x,
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
