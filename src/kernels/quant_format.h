// ggml's block formats for quantized weights (SPEC §13): the data layout shared by the GGUF
// files (io/gguf.h), the quantized products (kernels/cpu/quant_dot.h) and the model loader.
// A format, not a device kernel: these scalar routines define the bytes exactly, and every
// faster path (the activations' on-the-fly quantization included) must produce the same.
//
// Q8_0 block (34 bytes): fp16 d, 32 int8 q; d = max|x|/127, q = roundf(x·id), x = d·q.
// Q4_0 block (18 bytes): fp16 d, 16 bytes; d = m/−8 with m the value of largest magnitude
// (sign kept), q = min(15, (int8)(x·id + 8.5)), element j in the low nibble of byte j and
// element j+16 in the high nibble, x = d·(q − 8).
// Both in float32 with id = d ? 1/d : 0, q computed from the float32 d, d then stored fp16
// (round to nearest even), exactly as ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/cpu_features.h"

namespace tinyr2::kernels {

// ggml type ids (ggml.h), as GGUF stores them.
enum class QuantType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };

constexpr int64_t kQuantBlock = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;  // fp16
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;  // fp16
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml block sizes");

// "f32", "f16", "q4_0", "q8_0", "bf16"; nullptr for an id that is none of them.
const char* quant_type_name(QuantType type);
bool is_known_quant_type(uint32_t id);
// Elements per block (1 for f32/f16/bf16, 32 for q4_0/q8_0) and bytes per block.
int64_t quant_block_elems(QuantType type);
int64_t quant_block_bytes(QuantType type);
// Bytes of n elements (n a multiple of the block size).
int64_t quant_row_bytes(QuantType type, int64_t n);

// IEEE half and bfloat16, round to nearest even (NaN stays NaN).
uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
float bf16_to_fp32(uint16_t b);

// n a multiple of 32.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);

// n elements of any type above, from its bytes, into float32 (f32/f16/bf16/q8_0/q4_0).
void dequantize_row(QuantType type, const void* src, float* dst, int64_t n);
// n float32 elements into `type`'s bytes (quant_row_bytes(type, n) of them).
void quantize_row(QuantType type, const float* src, void* dst, int64_t n);

// A quantized weight matrix (rows = out, cols = in; each row its own blocks), as it lies in a
// GGUF file: `data` points at rows · quant_row_bytes(type, cols) bytes that `owner` keeps
// alive (a mapping of the file, or a buffer). Inference only: no gradient.
struct QuantizedMatrix {
  QuantType type = QuantType::Q8_0;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;
  std::shared_ptr<const void> owner;

  int64_t row_bytes() const { return quant_row_bytes(type, cols); }
  const uint8_t* row(int64_t r) const { return data + r * row_bytes(); }
};

// Which integer dot-product path the quantized products take (kernels/cpu/quant_dot.h),
// chosen once from the CPU's features by the caller and passed down (no global state).
// AvxVnni is the VEX encoding of vpdpbusd (Alder Lake, Sapphire Rapids, Zen 5) on the same
// 256-bit tiles as Avx512Vnni (the EVEX encoding, which needs AVX512VL).
enum class QuantPath : int { Scalar = 0, Avx2 = 1, Avx512Vnni = 2, AvxVnni = 3 };
const char* quant_path_name(QuantPath path);

// The path for these features (a pure function of them; TINYR2_ISA acts through
// cpu::cpu_features(), which caps the struct): AVX512-VNNI + AVX512VL + AVX512BW with AVX2 and
// FMA → Avx512Vnni; else AVX-VNNI with AVX2 and FMA → AvxVnni; else AVX2 + FMA → Avx2; else
// Scalar.
QuantPath quant_path_for(const cpu::CpuFeatures& f);

}  // namespace tinyr2::kernels
