// The quantized weights of a model loaded from a Q8_0 / Q4_0 GGUF file (SPEC §13), and the
// Linear call sites' way to them.
//
// A quantized matrix is registered in the model's Parameters like any weight (same name and
// shape, so counts, names and shapes stay those of §3) but left unfilled: its float32 buffer is
// reserved and never written or read, so it never becomes resident memory. The blocks live in
// the mapped GGUF file; QuantizedWeights finds them from the placeholder tensor's handle. The
// model's modules call nn::linear / nn::stacked_linear instead of the ops of the same name:
// with ctx.quantized set and the weight found there, the product runs on the quantized
// kernels; otherwise it is the float32 op, unchanged (training and fp32 models never see a
// difference).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_quant.h"
#include "core/cpu_features.h"
#include "kernels/quant_format.h"
#include "nn/forward_context.h"

namespace tinyr2::nn {

struct QuantizedWeights {
  kernels::QuantPath path = kernels::QuantPath::Scalar;        // the integer dot-product path
  std::map<const float*, kernels::QuantizedMatrix> by_tensor;  // by the placeholder's data()

  const kernels::QuantizedMatrix* find(const Tensor& w) const;
};

// kernels::quant_path_for (AVX512-VNNI, AVX-VNNI, AVX2 or scalar).
kernels::QuantPath quant_path_for(const cpu::CpuFeatures& f);

// The quantized matrix of w in ctx's model, or nullptr.
inline const kernels::QuantizedMatrix* quantized(const ForwardContext& ctx, const Tensor& w) {
  return ctx.quantized ? ctx.quantized->find(w) : nullptr;
}

// x · wᵀ: quantized when w is, else ops::linear; plus w's LoRA term when it has one.
Tensor linear(ForwardContext& ctx, const Tensor& x, const Tensor& w);

// ops::stacked_linear, or its quantized form when any part's weight is quantized.
std::vector<Tensor> stacked_linear(ForwardContext& ctx, const Tensor& x,
                                   const std::vector<ops::StackedOutput>& outputs,
                                   std::shared_ptr<const ops::RopeTable> rope = nullptr);
// The same without the LoRA terms (SPEC §12; stacked_linear adds them).
std::vector<Tensor> stacked_linear_base(ForwardContext& ctx, const Tensor& x,
                                        const std::vector<ops::StackedOutput>& outputs,
                                        std::shared_ptr<const ops::RopeTable> rope);
// Adds the LoRA term of every adapted part to y (stacked_linear's outputs), through RoPE.
void add_lora_stacked(ForwardContext& ctx, const Tensor& x,
                      const std::vector<ops::StackedOutput>& outputs,
                      const std::shared_ptr<const ops::RopeTable>& rope, std::vector<Tensor>& y);

}  // namespace tinyr2::nn
