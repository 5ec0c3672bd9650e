// Differentiable hyper-connection primitives (SPEC §2.5); kernels in kernels/cpu/stream_mix.
#pragma once

#include <array>

#include "autograd/tape.h"

namespace tinyr2::ops {

// R (N,S,C), M (S,T) shared or (N,S,T) per token → (N,T,C), out[n,t] = Σ_s M[s,t] R[n,s].
Tensor stream_mix(Tape& tape, const Tensor& R, const Tensor& M);

// (S,S) logits → Sinkhorn-projected H_res (columns sum to 1).
Tensor sinkhorn(Tape& tape, const Tensor& logits, double tau, int64_t iters);

// (S,S) logits → Newton–Schulz orthogonalised X, squared elementwise.
Tensor orthostochastic(Tape& tape, const Tensor& logits, int64_t steps, double eps,
                       const std::array<double, 3>& coeffs);

}  // namespace tinyr2::ops
