// Differentiable neural-network ops: normalisation, softmax, the fused cross-entropy loss,
// RoPE, embeddings and row gather/scatter, plus top-k (no gradient). Kernels (with the
// formulas) in kernels/cpu/{rmsnorm,softmax,cross_entropy,linear_cross_entropy,rope,gather,
// topk}.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "autograd/tape.h"
#include "core/index_tensor.h"

namespace tinyr2::ops {

// RMSNorm over the last dim (SPEC §2): x (..., C), w (C) → x / sqrt(mean(x²) + eps) ⊙ w.
Tensor rmsnorm(Tape& tape, const Tensor& x, const Tensor& w, float eps);

// Numerically stable softmax / log-softmax over the last dim; same shape as x.
Tensor softmax(Tape& tape, const Tensor& x);
Tensor log_softmax(Tape& tape, const Tensor& x);

// Mean cross-entropy of logits (..., V) against targets (...) → a scalar (shape {}), the
// mean over the rows whose target is not ignore_index (F.cross_entropy semantics). Fused:
// only the per-row log-sum-exp is kept; backward recomputes the softmax into the logits
// gradient. Every target must be in [0, V) or equal ignore_index. When every row is
// ignored the loss is 0 with a zero gradient (PyTorch would give NaN).
Tensor cross_entropy(Tape& tape, const Tensor& logits, const IndexTensor& targets,
                     int ignore_index = -1);

// The tied-head loss in one op: cross_entropy(linear(x, w), targets) for x (..., C) and
// w (V, C), without the (N, V) logits or their gradient ever existing (N = rows of x). The
// forward runs over row chunks (kernels/cpu/linear_cross_entropy) and, when a gradient is
// wanted, produces dx (N, C) and dw (V, C) on the way; backward only scales them by the
// loss's upstream gradient. Same semantics as the two ops it replaces (ignore_index, all
// rows ignored → 0 with no gradient).
Tensor linear_cross_entropy(Tape& tape, const Tensor& x, const Tensor& w,
                            const IndexTensor& targets, int ignore_index = -1);

// Half-split RoPE (SPEC §2.2) on x (B, T, H, D) or (B, T, D) (one head), D even, token t
// rotated by the angle positions[t] · theta^(−2i/D); positions has length T (any ints,
// e.g. 15, 31, 47 for compressed blocks).
Tensor rope(Tape& tape, const Tensor& x, const std::vector<int32_t>& positions, float theta);

// weight (V, C), ids of any shape → ids.shape + (C): rows of weight. The gradient is
// scatter-added into weight (repeated ids accumulate). Every id must be in [0, V).
Tensor embedding(Tape& tape, const Tensor& weight, const IndexTensor& ids);

// x (N, C), idx (M) → (M, C) with out[m] = x[idx[m]]; idx may repeat.
Tensor gather_rows(Tape& tape, const Tensor& x, const IndexTensor& idx);

// src (M, C), idx (M) → (num_rows, C), zeros plus out[idx[m]] += src[m]; idx may repeat.
Tensor scatter_add_rows(Tape& tape, const Tensor& src, const IndexTensor& idx, int64_t num_rows);

// The k largest entries along the last dim of x (..., n), 0 ≤ k ≤ n: values (..., k)
// sorted descending and their indices (..., k). Ties go to the LOWER index (an all-equal
// row gives 0, 1, …, k−1); NaN ranks above every number. Not differentiable: records
// nothing on the tape and the values never require grad.
std::pair<Tensor, IndexTensor> topk(Tape& tape, const Tensor& x, int64_t k);

}  // namespace tinyr2::ops
