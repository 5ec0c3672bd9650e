// Newton–Schulz (Muon's orthogonalisation, SPEC §6) with bf16 matrix products and fp32
// accumulation: what Muon runs under train.precision "bf16" (SPEC §13: matrix products in
// bf16; the momentum, the Frobenius norm and the update stay fp32).
//
//   X_0 = G / (‖G‖_F + eps)                         fp32 (the norm summed in double)
//   repeat `steps` times:
//     A  = r(X) r(X)ᵀ                                r = round to bf16 (RNE), fp32 sums
//     AA = r(A) r(A)ᵀ                                (= A·A: A is symmetric)
//     B  = fma(c, AA, b·A)                          fp32
//     X  = fma(a, X, r(B) r(X))                     fp32 (a·X is not rounded to bf16)
//
// iterated on Gᵀ when rows > cols (so that A is the small side), as the fp32 kernel does
// (cpu/newton_schulz.h). The two symmetric products compute only the 12 × 32 tiles that touch
// the lower triangle and mirror it (half the work of a gemm). The PyTorch twin is
// reference/optim.py newton_schulz(..., precision="bf16").
//
// Every product runs gemm_bf16's micro-kernel (gemm_bf16_tile.h) on bf16 pair words, and
// each operand is rounded and packed once, by the pass that produces it: the update's
// epilogue writes the next step's X in fp32 (for a·X) and in the three packed layouts its
// products read (X Xᵀ's left and right, B·X's right); A and B (symmetric) are packed from
// their fp32 rows. The buffers live for the call, across its steps.
//
// Two paths give the same bits:
//   native   — AVX512_BF16: a 12 × 32 vdpbf16ps micro-kernel on bf16 pair panels (k, k+1);
//   emulated — any CPU: the same sums in the same order in plain fp32 arithmetic. vdpbf16ps
//              adds, per lane, the product of the odd (high) halves and then that of the even
//              (low) halves to the accumulator, each add rounded to nearest even (Intel SDM;
//              checked on Zen 4); a product of two bf16 values is exact in fp32, so
//              acc + x·y rounds once whether or not the compiler fuses it.
// Both flush fp32 denormal inputs to zero before rounding (as vcvtneps2bf16 does). The bits
// could differ only where a product or a partial sum falls below fp32's normal range
// (|x| < 1.2e-38: the native instruction flushes it), which the normalised X does not reach.
//
// Every output element is summed by one thread in a fixed order (one tile, all of K in
// registers), so the result does not depend on the thread count. Work items: the tiles of
// each product (≥ 16 at the default Muon shapes); Muon itself calls this from its own
// parallel loop over parameters, where it runs on that one thread.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace tinyr2::kernels::cpu {

// out[rows, cols] = NS_steps(G / (‖G‖_F + eps)) as above; `native` picks the AVX512_BF16
// path (the caller must only pass true on a CPU that has it). G and out may be the same.
void newton_schulz_bf16(bool native, const float* G, float* out, int64_t rows, int64_t cols,
                        int steps, NewtonSchulzCoeffs coeffs = {}, float eps = 1e-7f);

// A[n, n] (row stride n) = r(X) r(X)ᵀ for X (n, k) at row stride ldx: the symmetric product
// of one step (lower triangle computed, mirrored to the upper). Exposed for tests.
void syrk_bf16(bool native, int64_t n, int64_t k, const float* X, int64_t ldx, float* A);

}  // namespace tinyr2::kernels::cpu
