// The routed experts of a DSMoE layer in one pass (SPEC §2.4): the MoE dispatch kernel.
//
// Dispatch. Token n chose the routed experts idx[n, 0..K−1]; its K "slots" s = n·K + j are
// sorted by expert into M = N·K rows: rows offsets[e] … offsets[e+1]−1 belong to expert e,
// row i comes from token token[i] and slot slot[i], and pos[s] is the row of slot s.
//
// A slot whose expert is −1 routes nowhere (SPEC §11: a dropped assignment, or an expert-
// choice slot no expert took): it has no row, pos[s] = −1, and it adds 0 to its token.
//
// Forward, for each expert e with rows i ∈ [offsets[e], offsets[e+1]) (W_fc (H, C),
// W_proj (C, H), the expert MLP of SPEC §2.4):
//   X_e = x[token[i]]                 (n_e, C)   gathered, kept for backward
//   Z_e = X_e · W_fcᵀ                 (n_e, H)   kept for backward
//   Y_e = relu(Z_e)² · W_projᵀ        (n_e, C)   kept for backward
// GLU experts (SPEC §11, w_up given: W_fc is c_gate, W_up (H, C) c_up): z holds Z_e = X_e·W_fcᵀ
// in its first M·H floats and U_e = X_e·W_upᵀ in the next M·H, and A = act(Z) ⊙ U replaces
// relu(Z)² (kernels/cpu/glu.h); backward dZ = dA ⊙ U ⊙ act′(Z), dU = dA ⊙ act(Z),
// dW_up += dUᵀ·X_e, dX_e = dZ·W_fc + dU·W_up.
// then the combine, per token:  out[n] = Σ_j g[n·K+j] · m_i ⊙ Y[i],  i = pos[n·K+j]
// with g the gate weights ĝ and m an optional dropout mask (M, C) in row order.
//
// Backward from dout (N, C):
//   dY[i] = g[slot[i]] · m_i ⊙ dout[token[i]]       dg[slot[i]] += ⟨dout[token[i]], m_i ⊙ Y[i]⟩
//   dA = dY_e · W_proj    dW_proj += dY_eᵀ · relu(Z_e)²
//   dZ = dA ⊙ 2·relu(Z_e)  dW_fc += dZᵀ · X_e     dX_e = dZ · W_fc
//   dx[n] += Σ_j dX[pos[n·K+j]]
//
// Threads. With many active experts (≥ 2 per thread) the experts run in parallel, one
// expert per thread at a time, largest first, each with single-threaded sgemms on its own
// weights (OpenBLAS does not spawn threads inside a parallel region): no per-GEMM thread
// start-up, and each expert's weights stay in one core's cache. With few experts, one
// expert after another with threaded sgemms. Either way every expert's arithmetic is done
// by one fixed sequence of calls, so the result does not depend on the schedule.
//
// Precision (SPEC §13, w.bf16 — the caller's tape's, carried by the call): every product
// above (forward, dX and dW, MLP and GLU experts) takes bf16 operands, rounded to nearest
// even, with fp32 accumulation (cpu/gemm_bf16.h: native AVX512_BF16 or emulated); the
// activations, gates, combine, dgates and all outputs and gradients stay fp32.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

using kernels::MoeDispatch;  // kernels/params.h
using kernels::MoeExpertGrads;
using kernels::MoeExpertWeights;

// Counting sort of the slots of idx (N, K) by expert; within an expert rows keep token
// order. Every idx entry must be in [0, E) or −1 (no row).
MoeDispatch moe_dispatch(const int32_t* idx, int64_t N, int64_t K, int64_t E);

// True when the experts of d run in parallel (see above) on `threads` threads.
bool moe_experts_in_parallel(const MoeDispatch& d, int threads);

// w_fc[e] (H, C) and w_proj[e] (C, H) may be null for experts without rows. Writes xg (M, C),
// z (M, H; GLU 2·M·H), y (M, C) and out (N, C). g (N·K) is in slot order; mask (M, C) or null.
void moe_experts_forward(const MoeDispatch& d, const float* x, const float* g, const float* mask,
                         const MoeExpertWeights& w, int64_t C, int64_t H, float* xg, float* z,
                         float* y, float* out);

// Accumulates (+=) into dx (N, C) (may be null), dg (N·K, slot order; may be null), and the
// expert weight gradients of `dw`.
void moe_experts_backward(const MoeDispatch& d, const float* dout, const float* g,
                          const float* mask, const MoeExpertWeights& w, int64_t C, int64_t H,
                          const float* xg, const float* z, const float* y, float* dx, float* dg,
                          const MoeExpertGrads& dw);

}  // namespace tinyr2::kernels::cpu
