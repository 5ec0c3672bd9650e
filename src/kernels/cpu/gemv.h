// One-row matrix products y = alpha · x · Wᵀ + beta · y for W (N, K) stored row-major: the
// decode step's products (SPEC §9: one new token per step, so every linear map, and the tied
// head over the whole vocabulary, is a matrix-vector product).
//
// sgemm with M = 1 is a poor fit for BLAS: OpenBLAS and oneDNN pack or block for products of
// many rows, and at M = 1 the product is bound by reading W once (the tied head: 50257 × 256
// floats, 51 MB per token). OpenBLAS even copies W into its packed layout on every call (a
// quarter of the decode time on an AVX2 Zen 3). This kernel reads every row of W once, front
// to back, with four independent accumulators per row (AVX-512: 16 lanes each; AVX2: 8), and
// splits the rows over the OpenMP threads in contiguous ranges (one sequential stream per
// thread, what the hardware prefetchers follow best).
//
// The order of the sums in a row depends only on K and the instruction-set level, never on
// the thread count or the schedule: every output element is bit-identical for any number of
// threads (bit-exact resume, SPEC §7).
#pragma once

#include <cstdint>

#include "core/cpu_features.h"

namespace tinyr2::kernels::cpu {

// Whether gemv() may run at `level`: AVX2 and up (below it gemm() keeps OpenBLAS for every
// product).
bool gemv_supported(tinyr2::cpu::IsaLevel level);

// y[n] = alpha · Σ_k x[k] · W[n·ldw + k] + beta · y[n] for n < N (y not read when beta = 0),
// with the AVX-512 code at `level` ≥ Avx512, else the AVX2 code: only where
// gemv_supported(level).
void gemv(tinyr2::cpu::IsaLevel level, int64_t N, int64_t K, float alpha, const float* x,
          const float* W, int64_t ldw, float beta, float* y);

}  // namespace tinyr2::kernels::cpu
