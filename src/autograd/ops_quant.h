// Inference ops on quantized weights (SPEC §13): the products of a model loaded from a Q8_0 /
// Q4_0 GGUF file. The weight stays in its blocks (kernels::QuantizedMatrix, pointing into the
// mapped file); the activations are quantized to Q8_0 on the fly and multiplied with integer
// dot products (kernels/cpu/quant_dot.h, through the backend's quant_matmul entry). No
// dequantized copy of a weight matrix is made. These ops record no gradient: they exist for
// generate / eval / logits / serve only.
#pragma once

#include <memory>
#include <vector>

#include "autograd/ops_nsa.h"
#include "autograd/tape.h"
#include "core/index_tensor.h"
#include "core/tensor.h"
#include "kernels/quant_format.h"

namespace tinyr2::ops {

// x (..., cols) · Wᵀ → (..., rows).
Tensor quant_linear(Tape& tape, const Tensor& x, const kernels::QuantizedMatrix& w,
                    kernels::QuantPath path);

// Rows [begin, end) of a quantized matrix (q set) or of a float32 weight (q null).
struct QuantRows {
  const kernels::QuantizedMatrix* q = nullptr;
  Tensor weight;
  int64_t begin = 0, end = 0;
};
struct QuantStackedOutput {
  std::vector<QuantRows> parts;
  int64_t rope_heads = 0, rope_dim = 0;
};
// stacked_linear (autograd/ops_nsa.h) with parts that may be quantized: every part's product
// lands in its columns of one (M, N) buffer, then the outputs are copied out (RoPE applied)
// exactly as stacked_linear does.
std::vector<Tensor> quant_stacked_linear(Tape& tape, const Tensor& x,
                                         const std::vector<QuantStackedOutput>& outputs,
                                         std::shared_ptr<const RopeTable> rope,
                                         kernels::QuantPath path);

// Rows ids of a quantized (V, C) table, dequantized → (ids shape..., C).
Tensor quant_embedding(const kernels::QuantizedMatrix& table, const IndexTensor& ids);

// Mean cross-entropy of the logits h (N, C) · Wᵀ against targets (N), W a quantized (V, C)
// head; the logits are formed a chunk of rows at a time, never all (N, V) at once. A scalar.
Tensor quant_linear_cross_entropy(const Tensor& h, const kernels::QuantizedMatrix& w,
                                  const IndexTensor& targets, kernels::QuantPath path);

// moe_experts (autograd/ops_moe.h) with quantized expert matrices, eval mode (no mask):
// out[n] = Σ_j g[n,j] · relu(x[n] · W_fc[e]ᵀ)² · W_proj[e]ᵀ, e = idx[n,j]. A matrix whose
// q_* entry is null is the float32 tensor of w_* (a width that is not whole blocks).
Tensor quant_moe_experts(const Tensor& x, const Tensor& g, const IndexTensor& idx,
                         const std::vector<const kernels::QuantizedMatrix*>& q_fc,
                         const std::vector<const kernels::QuantizedMatrix*>& q_proj,
                         const std::vector<Tensor>& w_fc, const std::vector<Tensor>& w_proj,
                         kernels::QuantPath path);

}  // namespace tinyr2::ops
