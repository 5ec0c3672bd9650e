// Newton–Schulz orthogonalisation (Muon's "zeropower", SPEC §6), float32 on the CPU.
//
//   X_0 = G / (‖G‖_F + eps)
//   repeat `steps` times:  A = X Xᵀ;  B = b A + c A A;  X = a X + B X
//
// For a matrix G = U Σ Vᵀ each step maps every singular value σ ↦ aσ + bσ³ + cσ⁵ and keeps
// U and V, so the result is ≈ U Vᵀ (Muon's coefficients (3.4445, −4.7750, 2.0315) leave the
// singular values in ~[0.68, 1.13] after 5 steps rather than exactly 1: a faster, rougher
// quintic). When rows > cols the iteration runs on Gᵀ, so that A is the small cols × cols
// side, and the result is transposed back; here that is done without moving data:
//
//   rows ≤ cols:  A = X Xᵀ (rows×rows),  X = a X + B X
//   rows > cols:  A = Xᵀ X (cols×cols),  X = a X + X Bᵀ     (= (a Xᵀ + B Xᵀ)ᵀ)
//
// No backward: the optimizer does not differentiate through it. The products go through
// OpenBLAS (kernels/cpu/gemm.h): X Xᵀ and A A are symmetric, so they are ssyrk updates (half
// a gemm's FLOPs), B X is an sgemm; the Frobenius norm is accumulated in double in fixed
// chunks, so it does not depend on the thread count.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

using kernels::NewtonSchulzCoeffs;  // kernels/params.h

// out[rows, cols] = NS_steps(G / (‖G‖_F + eps)). G and out may be the same buffer.
void newton_schulz(const float* G, float* out, int64_t rows, int64_t cols, int steps,
                   NewtonSchulzCoeffs coeffs = {}, float eps = 1e-7f);

// Σ x_i² over n values, in double, summed in fixed 4096-element chunks (deterministic).
double sum_squares(const float* x, int64_t n);

}  // namespace tinyr2::kernels::cpu
