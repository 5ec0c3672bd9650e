// Quantized matrix products (SPEC §13): y = x · Wᵀ with W a Q8_0 or Q4_0 matrix (rows × cols,
// blocks of 32 along cols) and x float32 (M × cols). Each row of x is first quantized to Q8_0
// blocks with ggml's rule (kernels/quant_format.h); then every output is
//   y[m, r] = Σ_blocks d_w · d_x · Σ_j qw_j · qx_j        (Q4_0: qw_j = q_j − 8)
// with the inner sums exact in int32 and the outer sum in float32, block by block in order —
// the same value on every path up to the float32 summation of the blocks (the paths add the
// same terms; the vector paths add them in 8 lanes before the final reduction).
//
// Paths (QuantPath, chosen by the caller from the CPU features: kernels::quant_path_for):
// AVX512-VNNI and AVX-VNNI (vpdpbusd in its EVEX and VEX encodings, on 256-bit vectors, one
// block per register: (x + 128) · w − 128 · Σ w), AVX2 (vpmaddubsw + vpmaddwd on |w| and
// sign-moved x), and a scalar loop. The vector paths share one tile body and give the same
// int32 lanes, hence the same bits. Register tiles of up to 4 rows of x × 4 rows of W read each
// weight block once per tile (prefill: M rows of x); every output is the same sequence of
// operations whatever the tile, so tiling changes no bit. Threads split the rows of W (and the
// activations' quantization by rows); each output is computed by one thread in a fixed order,
// so the result does not depend on the thread count.
#pragma once

#include <cstdint>

#include "kernels/quant_format.h"

namespace tinyr2::kernels::cpu {

// y row m at y + m·ldy, columns [0, rows).
void quant_matmul(QuantType type, const uint8_t* w, int64_t rows, int64_t cols, const float* x,
                  int64_t M, float* y, int64_t ldy, QuantPath path);

}  // namespace tinyr2::kernels::cpu
