// Causal linear attention (SPEC §10 "Linear"): the differentiable op over the chunked kernels
// of kernels/cpu/linear_attention.h (formulas there). Never forms a T×T tensor.
#pragma once

#include <cstdint>

#include "autograd/tape.h"
#include "core/tensor.h"

namespace tinyr2::ops {

// Chunk length of the kernels: inside a chunk masked products, across chunks the D×D state.
inline constexpr int64_t kLinearAttentionChunk = 64;

// q, k, v (B,T,H,D) → o (B,T,H,D), o_t = φ(q_t)ᵀS_t / (φ(q_t)·z_t + 1e-6), φ = elu + 1.
// With S (B,H,D,D) and z (B,H,D) given (decode, no gradient): they hold the state before
// position 0 of q and are advanced past its last position. Without them the sequence starts
// from the zero state and gradients flow to q, k, v.
Tensor linear_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                        Tensor* S = nullptr, Tensor* z = nullptr);

}  // namespace tinyr2::ops
