#include "kernels/quant_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace tinyr2::kernels {

namespace {
uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
void check_blocks(int64_t n) {
  TINYR2_CHECK(n % kQuantBlock == 0, "quantized rows hold whole blocks of 32, got {} elements", n);
}
}  // namespace

const char* quant_type_name(QuantType type) {
  switch (type) {
    case QuantType::F32:
      return "f32";
    case QuantType::F16:
      return "f16";
    case QuantType::Q4_0:
      return "q4_0";
    case QuantType::Q8_0:
      return "q8_0";
    case QuantType::BF16:
      return "bf16";
  }
  return nullptr;
}

bool is_known_quant_type(uint32_t id) {
  return id == 0 || id == 1 || id == 2 || id == 8 || id == 30;
}

int64_t quant_block_elems(QuantType type) {
  return type == QuantType::Q4_0 || type == QuantType::Q8_0 ? kQuantBlock : 1;
}

int64_t quant_block_bytes(QuantType type) {
  switch (type) {
    case QuantType::F32:
      return 4;
    case QuantType::F16:
    case QuantType::BF16:
      return 2;
    case QuantType::Q4_0:
      return sizeof(BlockQ4_0);
    case QuantType::Q8_0:
      return sizeof(BlockQ8_0);
  }
  fail("unknown quantization type {}", static_cast<uint32_t>(type));
}

int64_t quant_row_bytes(QuantType type, int64_t n) {
  return n / quant_block_elems(type) * quant_block_bytes(type);
}

// Round to nearest even, as F16C's vcvtps2ph (imm 0) and numpy's float16 do.
uint16_t fp32_to_fp16(float f) {
  uint32_t u = bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u >= 0x47800000u)  // ≥ 65536, inf or NaN
    return static_cast<uint16_t>(sign | (u > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (u < 0x38800000u) {  // a half subnormal or zero: let the float adder round
    const uint32_t r = bits(from_bits(u) + 0.5f) - 0x3f000000u;
    return static_cast<uint16_t>(sign | r);
  }
  const uint32_t odd = (u >> 13) & 1u;
  u += 0xc8000fffu + odd;  // rebias the exponent (−112) and round half to even
  return static_cast<uint16_t>(sign | (u >> 13));
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant · 2^−24
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return from_bits(bits(v) | sign);
  }
  if (exp == 31) return from_bits(sign | 0x7f800000u | (mant << 13));
  return from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

// ggml_compute_fp32_to_bf16: round to nearest even, NaN made quiet.
uint16_t fp32_to_bf16(float f) {
  const uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

float bf16_to_fp32(uint16_t b) {
  return from_bits(static_cast<uint32_t>(b) << 16);
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  check_blocks(n);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock) {
    float amax = 0.f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQuantBlock; ++j) y[b].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  check_blocks(n);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock) {
    float amax = 0.f, m = 0.f;
    for (int j = 0; j < kQuantBlock; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        m = x[j];
      }
    const float d = m / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int q1 =
          std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kQuantBlock / 2] * id + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  check_blocks(n);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, y += kQuantBlock) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kQuantBlock; ++j) y[j] = d * static_cast<float>(x[b].qs[j]);
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  check_blocks(n);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, y += kQuantBlock) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      y[j] = d * static_cast<float>((x[b].qs[j] & 0x0f) - 8);
      y[j + kQuantBlock / 2] = d * static_cast<float>((x[b].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_row(QuantType type, const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  switch (type) {
    case QuantType::F32:
      std::memcpy(dst, p, static_cast<size_t>(n) * 4);
      return;
    case QuantType::F16:
    case QuantType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = type == QuantType::F16 ? fp16_to_fp32(v) : bf16_to_fp32(v);
      }
      return;
    case QuantType::Q8_0:
      dequantize_row_q8_0(reinterpret_cast<const BlockQ8_0*>(p), dst, n);
      return;
    case QuantType::Q4_0:
      dequantize_row_q4_0(reinterpret_cast<const BlockQ4_0*>(p), dst, n);
      return;
  }
  fail("unknown quantization type {}", static_cast<uint32_t>(type));
}

void quantize_row(QuantType type, const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  switch (type) {
    case QuantType::F32:
      std::memcpy(p, src, static_cast<size_t>(n) * 4);
      return;
    case QuantType::F16:
    case QuantType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t v = type == QuantType::F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &v, 2);
      }
      return;
    case QuantType::Q8_0:
      quantize_row_q8_0(src, reinterpret_cast<BlockQ8_0*>(p), n);
      return;
    case QuantType::Q4_0:
      quantize_row_q4_0(src, reinterpret_cast<BlockQ4_0*>(p), n);
      return;
  }
  fail("unknown quantization type {}", static_cast<uint32_t>(type));
}

const char* quant_path_name(QuantPath path) {
  switch (path) {
    case QuantPath::Scalar:
      return "scalar";
    case QuantPath::Avx2:
      return "avx2 (maddubs)";
    case QuantPath::Avx512Vnni:
      return "avx512-vnni (vpdpbusd)";
    case QuantPath::AvxVnni:
      return "avx-vnni (vpdpbusd, VEX)";
  }
  return "?";
}

QuantPath quant_path_for(const cpu::CpuFeatures& f) {
  if (!(f.avx2 && f.fma)) return QuantPath::Scalar;
  if (f.avx512_vnni && f.avx512vl && f.avx512bw) return QuantPath::Avx512Vnni;
  if (f.avx_vnni) return QuantPath::AvxVnni;
  return QuantPath::Avx2;
}

}  // namespace tinyr2::kernels
