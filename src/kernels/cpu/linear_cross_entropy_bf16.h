// The fused linear + cross-entropy head (cpu/linear_cross_entropy.h, same formulas, same
// chunked row loop and outputs) with its three products in bf16 with fp32 accumulation
// (cpu/gemm_bf16.h, SPEC §13): z = h·Wᵀ, dh = G·W, dW = Gᵀ·h. The max, log-sum-exp, loss and
// G stay fp32. On the native path W is packed to bf16 once per call for both of its uses
// (Wᵀ for the logits, W for dh), not once per chunk.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

double linear_cross_entropy_bf16(bool native, const float* h, const float* W,
                                 const int32_t* targets, int64_t N, int64_t C, int64_t V,
                                 int32_t ignore_index, float scale, float* lse, float* dh,
                                 float* dW, int64_t chunk_rows);

// Which products the native head runs on: the rule's choice (gemm_bf16_uses_onednn on the
// logits product of one chunk, for all three), gemm_bf16's own kernel, or oneDNN's bf16
// matmul (W rounded to bf16 once, each chunk's h and G once, gemm_bf16_onednn.h). The
// emulation (native false) ignores it. Tests and benchmarks pick a route; the backend's
// linear_cross_entropy_bf16 takes the rule's.
enum class Bf16HeadRoute { Rule, OwnKernel, OneDnn };
double linear_cross_entropy_bf16_on(Bf16HeadRoute route, bool native, const float* h,
                                    const float* W, const int32_t* targets, int64_t N, int64_t C,
                                    int64_t V, int32_t ignore_index, float scale, float* lse,
                                    float* dh, float* dW, int64_t chunk_rows);

}  // namespace tinyr2::kernels::cpu
