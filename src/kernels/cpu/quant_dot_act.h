// The activations' Q8_0 quantization for the quantized products (kernels/cpu/quant_dot.h,
// SPEC §13): ggml's rule (kernels/quant_format.h, quantize_row_q8_0 defines the bytes), here
// 8 floats at a time on the vector paths. The bytes are the reference's exactly: amax is a max
// (order-free for finite values), d and 1/d are the same scalar float operations, x · id the same
// float product, and roundf's half-away-from-zero is rebuilt exactly (truncate; add ±1 when the
// exact remainder is ≥ ½). A block holding a NaN or an infinity, or whose 1/d overflows (amax
// subnormal), takes the scalar reference.
#pragma once

#include <cstdint>

#include "kernels/quant_format.h"

namespace tinyr2::kernels::cpu {

// n a multiple of 32; path Scalar runs quantize_row_q8_0 itself.
void quantize_activations_q8_0(const float* x, BlockQ8_0* y, int64_t n, QuantPath path);

}  // namespace tinyr2::kernels::cpu
