// The quantized products (kernels/cpu/quant_dot.h, SPEC §13) on every path this CPU has
// (scalar, AVX2, AVX512-VNNI): against an exact reference computed here from the blocks
// (integer block sums × fp16 scales, in double), and against the float32 product of the
// dequantized weights with the unquantized activations, within the bound of the activations'
// Q8_0 rounding: |Σ_k w_k (x_k − x̂_k)| ≤ Σ_blocks d_x/2 · Σ_k |w_k|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/backend.h"
#include "kernels/cpu/quant_dot_act.h"
#include "kernels/quant_format.h"
#include "nn/quantized.h"

namespace tinyr2 {
namespace {

using kernels::QuantPath;
using kernels::QuantType;

// The paths this CPU can execute (AVX-VNNI only where the CPU has it: the VEX encoding is a
// different instruction from AVX512-VNNI's, and most AVX-512 CPUs lack it).
std::vector<QuantPath> paths_here() {
  std::vector<QuantPath> p = {QuantPath::Scalar};
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  if (f.avx2 && f.fma) p.push_back(QuantPath::Avx2);
  if (f.avx2 && f.fma && f.avx_vnni) p.push_back(QuantPath::AvxVnni);
  if (kernels::quant_path_for(f) == QuantPath::Avx512Vnni) p.push_back(QuantPath::Avx512Vnni);
  return p;
}

TEST(QuantDot, EveryPathMatchesTheBlockReferenceAndTheActivationBound) {
  const kernels::Backend& kern = kernels::backend(Device::CPU);
  std::mt19937 gen(77);
  std::normal_distribution<float> normal(0.f, 1.f);
  // rows not a multiple of the 4-row tile; M = 1 (decode) and M = 7; a large M·rows·cols so
  // that threads split the rows.
  for (const auto& [rows, cols, M] :
       {std::tuple<int64_t, int64_t, int64_t>{37, 96, 1}, {37, 96, 7}, {1030, 256, 9}})
    for (QuantType type : {QuantType::Q8_0, QuantType::Q4_0}) {
      std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(M * cols));
      for (float& v : w) v = 0.05f * normal(gen);
      for (float& v : x) v = normal(gen);
      x[3] = 40.f;  // one outlier: its block's d_x is large
      const int64_t rb = kernels::quant_row_bytes(type, cols), nb = cols / 32;
      std::vector<uint8_t> wq(static_cast<size_t>(rows * rb));
      std::vector<float> wd(w.size()), xd(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        kernels::quantize_row(type, w.data() + r * cols, wq.data() + r * rb, cols);
        kernels::dequantize_row(type, wq.data() + r * rb, wd.data() + r * cols, cols);
      }
      std::vector<kernels::BlockQ8_0> xq(static_cast<size_t>(M * nb));
      for (int64_t m = 0; m < M; ++m) {
        kernels::quantize_row_q8_0(x.data() + m * cols, xq.data() + m * nb, cols);
        kernels::dequantize_row_q8_0(xq.data() + m * nb, xd.data() + m * cols, cols);
      }
      for (QuantPath path : paths_here()) {
        std::vector<float> y(static_cast<size_t>(M * rows + 3), -1.f);
        kern.quant_matmul(type, wq.data(), rows, cols, x.data(), M, y.data(), rows, path);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t r = 0; r < rows; ++r) {
            double exact = 0, magnitude = 0, fp32 = 0, bound = 0;
            for (int64_t b = 0; b < nb; ++b) {
              double blk = 0, wabs = 0;
              for (int64_t k = b * 32; k < (b + 1) * 32; ++k) {
                blk += double(wd[r * cols + k]) * xd[m * cols + k];
                wabs += std::fabs(wd[r * cols + k]);
                fp32 += double(wd[r * cols + k]) * x[m * cols + k];
              }
              exact += blk;
              magnitude += std::fabs(blk);
              bound += wabs * kernels::fp16_to_fp32(xq[m * nb + b].d) / 2;
            }
            const double got = y[m * rows + r];
            EXPECT_NEAR(got, exact, 2e-6 * magnitude + 1e-7)
                << kernels::quant_type_name(type) << " " << kernels::quant_path_name(path) << " m "
                << m << " r " << r;
            EXPECT_LE(std::fabs(got - fp32), bound * 1.0001 + 1e-6) << "r " << r;
          }
        EXPECT_EQ(y[M * rows], -1.f) << "wrote past the output";
      }
    }
}

TEST(QuantDot, ResultDoesNotDependOnTheThreadCount) {
  const kernels::Backend& kern = kernels::backend(Device::CPU);
  const int64_t rows = 2048, cols = 512, M = 3;
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(M * cols));
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : w) v = normal(gen);
  for (float& v : x) v = normal(gen);
  std::vector<uint8_t> wq(
      static_cast<size_t>(rows * kernels::quant_row_bytes(QuantType::Q8_0, cols)));
  for (int64_t r = 0; r < rows; ++r)
    kernels::quantize_row_q8_0(w.data() + r * cols,
                               reinterpret_cast<kernels::BlockQ8_0*>(wq.data()) + r * (cols / 32),
                               cols);
  const QuantPath path = paths_here().back();
  std::vector<float> y1(static_cast<size_t>(M * rows)), y2(y1.size());
  kern.quant_matmul(QuantType::Q8_0, wq.data(), rows, cols, x.data(), M, y1.data(), rows, path);
  // One row at a time (no parallel region at all) gives the same bits.
  for (int64_t r = 0; r < rows; ++r)
    kern.quant_matmul(QuantType::Q8_0,
                      wq.data() + r * kernels::quant_row_bytes(QuantType::Q8_0, cols), 1, cols,
                      x.data(), M, y2.data() + r, rows, path);
  EXPECT_EQ(y1, y2);
}

// The path is a pure function of the features: every combination of the flags it reads.
TEST(QuantDot, PathIsChosenFromEveryFeatureCombination) {
  for (int bits = 0; bits < 64; ++bits) {
    cpu::CpuFeatures f;
    f.avx = f.avx2 = bits & 1;
    f.fma = bits & 2;
    f.avx512f = f.avx512dq = f.avx512vl = bits & 4;
    f.avx512bw = bits & 8;
    f.avx512_vnni = bits & 16;
    f.avx_vnni = bits & 32;
    const bool avx2 = f.avx2 && f.fma;
    const QuantPath expected = !avx2                                       ? QuantPath::Scalar
                               : f.avx512_vnni && f.avx512vl && f.avx512bw ? QuantPath::Avx512Vnni
                               : f.avx_vnni                                ? QuantPath::AvxVnni
                                                                           : QuantPath::Avx2;
    EXPECT_EQ(kernels::quant_path_for(f), expected) << "feature bits " << bits;
    EXPECT_EQ(nn::quant_path_for(f), expected);  // the model loader's choice is the same
  }
  // TINYR2_ISA caps (cpu::cap_to_isa): a CPU with both VNNI encodings (Sapphire Rapids) runs
  // AVX512-VNNI, capped to avx2 it runs the VEX encoding, capped to generic the scalar loop; an
  // AVX-VNNI CPU without AVX-512 (Alder Lake, Zen 5 client parts) runs the VEX encoding.
  cpu::CpuFeatures spr;
  spr.avx = spr.avx2 = spr.fma = true;
  spr.avx512f = spr.avx512dq = spr.avx512bw = spr.avx512vl = spr.avx512_vnni = true;
  spr.avx512_bf16 = spr.avx_vnni = spr.amx_tile = spr.amx_bf16 = spr.amx_int8 = true;
  const std::pair<cpu::IsaLevel, QuantPath> capped[] = {
      {cpu::IsaLevel::Amx, QuantPath::Avx512Vnni},
      {cpu::IsaLevel::Avx512Bf16, QuantPath::Avx512Vnni},
      {cpu::IsaLevel::Avx512, QuantPath::Avx512Vnni},
      {cpu::IsaLevel::Avx2, QuantPath::AvxVnni},
      {cpu::IsaLevel::Generic, QuantPath::Scalar}};
  for (const auto& [level, path] : capped)
    EXPECT_EQ(kernels::quant_path_for(cpu::cap_to_isa(spr, level)), path) << cpu::isa_name(level);
  cpu::CpuFeatures alder_lake = cpu::cap_to_isa(spr, cpu::IsaLevel::Avx2);
  EXPECT_EQ(kernels::quant_path_for(alder_lake), QuantPath::AvxVnni);
  alder_lake.avx_vnni = false;  // Zen 3, Haswell … Tiger Lake without AVX-512
  EXPECT_EQ(kernels::quant_path_for(alder_lake), QuantPath::Avx2);
  EXPECT_STREQ(kernels::quant_path_name(QuantPath::AvxVnni), "avx-vnni (vpdpbusd, VEX)");
}

// Matrix-matrix products (prefill: M ≥ 16 rows of x) run register tiles of several rows of x
// per weight block; each output must be the same bits as the one-row product (the tile adds the
// same terms in the same order), on every path, for both types, with rows and M not multiples
// of the tiles.
TEST(QuantDot, RowTiledProductEqualsTheOneRowProductBitForBit) {
  const kernels::Backend& kern = kernels::backend(Device::CPU);
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t rows = 45, cols = 160;
  for (const int64_t M : {16, 19})
    for (QuantType type : {QuantType::Q8_0, QuantType::Q4_0}) {
      std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(M * cols));
      for (float& v : w) v = 0.05f * normal(gen);
      for (float& v : x) v = normal(gen);
      const int64_t rb = kernels::quant_row_bytes(type, cols);
      std::vector<uint8_t> wq(static_cast<size_t>(rows * rb));
      for (int64_t r = 0; r < rows; ++r)
        kernels::quantize_row(type, w.data() + r * cols, wq.data() + r * rb, cols);
      for (QuantPath path : paths_here()) {
        std::vector<float> tiled(static_cast<size_t>(M * rows)), single(tiled.size());
        kern.quant_matmul(type, wq.data(), rows, cols, x.data(), M, tiled.data(), rows, path);
        for (int64_t m = 0; m < M; ++m)
          kern.quant_matmul(type, wq.data(), rows, cols, x.data() + m * cols, 1,
                            single.data() + m * rows, rows, path);
        EXPECT_EQ(tiled, single) << kernels::quant_type_name(type) << " "
                                 << kernels::quant_path_name(path) << " M " << M;
        // And the vector paths agree with the scalar loop within the float32 summation of the
        // blocks (they add the same block terms, in 8 lanes first).
        std::vector<float> scalar(tiled.size());
        kern.quant_matmul(type, wq.data(), rows, cols, x.data(), M, scalar.data(), rows,
                          QuantPath::Scalar);
        for (size_t i = 0; i < tiled.size(); ++i)
          EXPECT_NEAR(tiled[i], scalar[i], 1e-5f * (1.f + std::fabs(scalar[i])))
              << kernels::quant_path_name(path) << " i " << i;
      }
    }
}

// The vector paths' activation quantization writes the reference's bytes (quant_format.h):
// random blocks of many scales, exact ties of roundf (amax 127 → id 1, x = k + ½: away from
// zero, where round-to-even would differ), zeros, subnormal x and d (1/d still finite) and a
// block of one value.
TEST(QuantDot, VectorActivationQuantizationWritesTheReferenceBytes) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x;
  for (int b = 0; b < 64; ++b) {
    const float scale = std::ldexp(1.f, b % 20 - 10);
    for (int j = 0; j < 32; ++j) x.push_back(scale * normal(gen));
  }
  for (int j = 0; j < 32; ++j) x.push_back(j == 5 ? 127.f : static_cast<float>(j % 9) - 4.5f);
  for (int j = 0; j < 32; ++j) x.push_back(j == 0 ? -127.f : 0.5f + static_cast<float>(j));
  for (int j = 0; j < 32; ++j) x.push_back(0.f);
  for (int j = 0; j < 32; ++j) x.push_back(j == 7 ? 1e-36f : j % 2 ? 1e-40f : -3e-39f);
  for (int j = 0; j < 32; ++j) x.push_back(-2.75f);
  const int64_t n = static_cast<int64_t>(x.size()), nb = n / 32;
  std::vector<kernels::BlockQ8_0> ref(static_cast<size_t>(nb)), got(ref.size());
  kernels::quantize_row_q8_0(x.data(), ref.data(), n);
  for (QuantPath path : paths_here()) {
    std::memset(got.data(), 0x5a, got.size() * sizeof(kernels::BlockQ8_0));
    kernels::cpu::quantize_activations_q8_0(x.data(), got.data(), n, path);
    for (int64_t b = 0; b < nb; ++b)
      EXPECT_EQ(std::memcmp(&got[b], &ref[b], sizeof(kernels::BlockQ8_0)), 0)
          << kernels::quant_path_name(path) << " block " << b << ": q[0] " << int(got[b].qs[0])
          << " vs " << int(ref[b].qs[0]);
  }
}

}  // namespace
}  // namespace tinyr2
