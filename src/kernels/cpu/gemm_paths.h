// The two sgemm implementations behind kernels/cpu/gemm.h and the fixed rule that picks one
// per product (SPEC §16): OpenBLAS (the core type chosen from the CPU features,
// core/blas_kernel.h) and oneDNN's JIT sgemm (dnnl_sgemm, its OpenMP build: it runs on the
// same OpenMP threads as our kernels, and single-threaded inside a parallel region).
//
// The rule depends only on the shape and the instruction-set level in use, so a product of
// a given shape always takes the same path (bit-exact resume; no run-time tuning). It was
// derived from measurements on an AMD EPYC Zen 4 (AVX-512 + BF16, 2 cores) at the default
// config's shapes (2048 tokens × n_embd 256, tied head over 50257 tokens in 112-row chunks,
// Muon on 256×1024 matrices, MoE experts of 100–550 rows inside a parallel region):
//
//   - below AVX-512 (TINYR2_ISA=avx2 or a CPU without it): OpenBLAS for every product
//     (oneDNN was not measured there);
//   - tiny products (M·N·K < 2¹⁹ ≈ 80³): OpenBLAS — oneDNN's per-call overhead makes it
//     1.1–1.8× slower there (7×256×7, 33³, 64³, 80×64×64);
//   - skinny products, a side < 16 but M·N·K ≥ 2¹⁹ (a rank-8 LoRA adapter's 2048×8×256 …
//     2048×768×8, the NSA gate's 2048×7×256): oneDNN — OpenBLAS splits them badly over
//     threads: on 2 threads it took 1.1–2.6× oneDNN's time on the idle machine and up to 40×
//     with the other core busy (bench gemm_path), while on 1 thread it ranges from 0.8× to
//     1.8× oneDNN's;
//   - large products with every side ≥ 256 and M·N·K ≥ 2²⁹ (2048×1024×256 and up): OpenBLAS
//     — on 2 threads oneDNN took 1.1–2× longer in every run (1024³, 2048×512×2048,
//     2048×1024×256 NT), although on 1 thread it is 5–10 % faster there too. (Re-measured
//     later on the idle machine after the head's change to per-block sgemms, 2 threads:
//     oneDNN 1.05–1.16× faster on 2048×1024×256 NT/NN/TN and 1024³, OpenBLAS 1.2× faster on
//     2048×512×2048 only; the rule is unchanged so far: moving the MLP products to oneDNN is
//     the next step to measure end to end.)
//   - everything else (the tied head's chunks, 2048×256×256 … 2048×768×256, the Muon and
//     MoE products): oneDNN, 5–20 % less CPU time on 1 thread (tied head chunk
//     112×50257×256: 0.82–0.93 of OpenBLAS's) and as fast or faster on 2.
//
// gemm() computes one class transposed from AVX-512 on: NT products x·Wᵀ with 16 ≤ M ≤ 32
// rows, N ≥ 64 and K ≥ 512 (the NSA block compressor's first layer, 32 × 256 × 4096 at
// T = 512) run as Cᵀ = W·xᵀ (N × M × K, on the path the rule picks for that shape) into a
// scratch, then transposed into C. oneDNN's direct kernel for such few rows is slow: on 1
// thread the transposed product took 0.25–0.58 of its CPU time at M = 16 and 0.52–0.87 at
// M = 32 for K = 4096, N 64–1024 (0.56–0.95 at K = 512), but lost at M < 16 (1.8–2.6×,
// the skinny class), at M = 48 (0.85–1.27) and at K ≤ 256 (0.9–1.3) (bench
// gemm_path_transposed, CPU time, shared machine). On 2 threads the direct 32 × 256 × 4096
// ran slower than on 1 (1.77 vs 1.38 ms, README); the compressor's layer forward + backward
// (BM_nsa_compressor_fwd_bwd) took 0.80–0.85 of the direct product's CPU time on 1 thread and
// 0.60 of the main thread's on 2 (OMP_WAIT_POLICY=passive, load 5 on the 2 cores). Below
// AVX-512 (OpenBLAS) the gain was 0–13 %, within the noise: not taken.
//
// gemm() itself sends one more class elsewhere from AVX2 on: a single row times a transposed
// (out, in) weight, M = 1 (every product of a decode step, the tied head's 1×50257×256 the
// largest), runs the GEMV of kernels/cpu/gemv.h, which reads W once front to back (bench
// gemm_path, CPU time on the shared AVX-512 machine: on the head oneDNN took 1.2–1.3× the
// GEMV's and OpenBLAS 1.9–2.0×; on 1×768×256 and 1×256×1024 OpenBLAS's small kernel is as
// fast as the GEMV and oneDNN 4–70× slower. On an AVX2 Zen 3, 1 thread: head OpenBLAS
// 8.2 ms, oneDNN 3.4, GEMV 2.2; 1×768×256 OpenBLAS 70 µs, oneDNN and GEMV 13 µs).
#pragma once

#include <cstdint>
#include <string>

#include "core/cpu_features.h"

namespace tinyr2::kernels::cpu {

enum class GemmPath { OpenBlas, OneDnn };

const char* gemm_path_name(GemmPath path);  // "OpenBLAS", "oneDNN"

// The path the rule above picks for C[M,N] = op(A)[M,K] · op(B)[K,N] at `level`.
GemmPath gemm_path_for(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       tinyr2::cpu::IsaLevel level);

// Whether gemm() computes C = op(A)·op(B) transposed, as Cᵀ = op(B)ᵀ·op(A)ᵀ into a
// scratch and then transposed into C (see the rule above), at `level`.
bool gemm_transposed_for(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                         tinyr2::cpu::IsaLevel level);

// The level gemm() decides with: cpu::cpu_features() (capped by TINYR2_ISA), read once.
tinyr2::cpu::IsaLevel gemm_isa_level();

// The rule in one line for `tinyr2 version` (with the kernels each path runs at `level`).
std::string gemm_rule_summary(tinyr2::cpu::IsaLevel level);

// One product on one path, no K = 0 special case (gemm() handles it): the same arguments as
// gemm(). gemm_onednn returns false, computing nothing, when oneDNN rejects the arguments.
void gemm_openblas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                   int64_t ldc);
bool gemm_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc);

}  // namespace tinyr2::kernels::cpu
