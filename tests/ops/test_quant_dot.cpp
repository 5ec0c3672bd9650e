// The quantized products (kernels/cpu/quant_dot.h, SPEC §13) on every path this CPU has
// (scalar, AVX2, AVX512-VNNI): against an exact reference computed here from the blocks
// (integer block sums × fp16 scales, in double), and against the float32 product of the
// dequantized weights with the unquantized activations, within the bound of the activations'
// Q8_0 rounding: |Σ_k w_k (x_k − x̂_k)| ≤ Σ_blocks d_x/2 · Σ_k |w_k|.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/backend.h"
#include "kernels/quant_format.h"
#include "nn/quantized.h"

namespace tinyr2 {
namespace {

using kernels::QuantPath;
using kernels::QuantType;

std::vector<QuantPath> paths_here() {
  std::vector<QuantPath> p = {QuantPath::Scalar};
  const cpu::CpuFeatures f = cpu::detect_cpu_features();
  if (f.avx2 && f.fma) p.push_back(QuantPath::Avx2);
  if (nn::quant_path_for(f) == QuantPath::Avx512Vnni) p.push_back(QuantPath::Avx512Vnni);
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

}  // namespace
}  // namespace tinyr2
