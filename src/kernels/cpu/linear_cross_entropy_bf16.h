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

// Which kernel the native head's three products run on: gemm_bf16's own kernel (W packed
// twice per call, G packed once per product), oneDNN's bf16 matmul (W rounded to bf16 once per
// call, each chunk's h and G once for both of their products, gemm_bf16_onednn.h), or the rule's
// choice: oneDNN when one chunk's logits product has rows·V·C ≥ 2^26 (the GPT-2 vocabulary
// head: as fast as the own kernel on 1 thread, 1.15-1.2× on 2 at the same chunk rows, bench
// linear_cross_entropy_bf16_route), else the own kernel. Default chunk rows: 2× the fp32
// head's on the own kernel, 4× on oneDNN. The emulation (native false) ignores
// it. Tests and benchmarks pick a route; the backend's linear_cross_entropy_bf16 takes the rule's.
enum class Bf16HeadRoute { Rule, OwnKernel, OneDnn };
double linear_cross_entropy_bf16_on(Bf16HeadRoute route, bool native, const float* h,
                                    const float* W, const int32_t* targets, int64_t N, int64_t C,
                                    int64_t V, int32_t ignore_index, float scale, float* lse,
                                    float* dh, float* dW, int64_t chunk_rows);

}  // namespace tinyr2::kernels::cpu
