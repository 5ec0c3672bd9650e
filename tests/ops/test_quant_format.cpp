// ggml's Q8_0 / Q4_0 blocks, fp16 and bf16 (SPEC §13) against reference/quant.py, an
// independent numpy implementation: the bytes must be equal, block for block, on random
// blocks and on the edge cases (all-zero, rounding ties, largest magnitude negative, fp16
// subnormal scales), and dequantization must agree too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/quant_format.h"
#include "support/cli.h"

namespace tinyr2 {
namespace {

using kernels::QuantType;

std::string bytes_of(const void* p, size_t n) {
  return std::string(static_cast<const char*>(p), n);
}

// Runs reference/quant.py on `x` and returns what it wrote.
std::string reference(const std::string& type, const std::vector<float>& x, bool dequantize,
                      const std::string& raw, const testing::TempDir& dir) {
  const std::string in = dir / "in.bin", out = dir / "out.bin";
  testing::write_file(in, dequantize ? raw : bytes_of(x.data(), x.size() * 4));
  const std::string cmd = std::string(TINYR2_TORCH_PYTHON) + " " + TINYR2_SOURCE_DIR +
                          "/reference/quant.py --type " + type +
                          (dequantize ? " --dequantize " : " ") + in + " " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return testing::read_file(out);
}

// Random blocks at several scales, then the edge blocks.
std::vector<float> test_blocks() {
  std::vector<float> x;
  std::mt19937 gen(16);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float scale : {1.f, 0.02f, 1e-6f, 300.f})
    for (int b = 0; b < 24; ++b)
      for (int j = 0; j < 32; ++j) x.push_back(scale * normal(gen));
  auto block = [&x](auto f) {
    for (int j = 0; j < 32; ++j) x.push_back(f(j));
  };
  block([](int) { return 0.f; });                             // all zero
  block([](int) { return -0.f; });                            // negative zeros
  block([](int j) { return j == 5 ? -127.f : 0.5f + j; });    // max |x| negative; q8 ties
  block([](int j) { return j == 0 ? 127.f : -(0.5f + j); });  // ties, negative side
  block([](int j) { return j == 3 ? -8.f : static_cast<float>(j % 17) - 8.f; });  // q4 ties
  block([](int j) { return j == 31 ? 8.f : -7.5f + 0.5f * (j % 31); });           // q4 max positive
  block([](int j) { return j % 2 ? 3.f : -3.f; });      // equal magnitudes, sign
  block([](int) { return -1e-7f; });                    // fp16 subnormal d
  block([](int j) { return j == 7 ? 60000.f : 1.f; });  // large d
  block([](int j) { return 1e-3f * static_cast<float>(j - 16); });
  return x;
}

TEST(QuantFormat, Q8_0AndQ4_0BytesEqualTheNumpyReference) {
  const testing::TempDir dir("quant_format");
  const std::vector<float> x = test_blocks();
  const int64_t n = static_cast<int64_t>(x.size()), nb = n / 32;

  std::vector<kernels::BlockQ8_0> q8(static_cast<size_t>(nb));
  kernels::quantize_row_q8_0(x.data(), q8.data(), n);
  const std::string ours8 = bytes_of(q8.data(), q8.size() * sizeof(q8[0]));
  const std::string ref8 = reference("q8_0", x, false, "", dir);
  ASSERT_EQ(ref8.size(), ours8.size());
  for (int64_t b = 0; b < nb; ++b)
    EXPECT_EQ(ours8.substr(b * 34, 34), ref8.substr(b * 34, 34)) << "q8_0 block " << b;

  std::vector<kernels::BlockQ4_0> q4(static_cast<size_t>(nb));
  kernels::quantize_row_q4_0(x.data(), q4.data(), n);
  const std::string ours4 = bytes_of(q4.data(), q4.size() * sizeof(q4[0]));
  const std::string ref4 = reference("q4_0", x, false, "", dir);
  ASSERT_EQ(ref4.size(), ours4.size());
  for (int64_t b = 0; b < nb; ++b)
    EXPECT_EQ(ours4.substr(b * 18, 18), ref4.substr(b * 18, 18)) << "q4_0 block " << b;

  // SPEC §13's stated cases, directly: all-zero Q4_0 stores d = −0 and q = 8.
  const int64_t zero = 96;  // the first edge block
  EXPECT_EQ(q4[zero].d, 0x8000);
  for (uint8_t byte : q4[zero].qs) EXPECT_EQ(byte, 0x88);
  EXPECT_EQ(q8[zero].d, 0);

  // Dequantization agrees bit for bit too.
  for (const auto& [type, raw] : {std::pair{std::string("q8_0"), ours8}, {"q4_0", ours4}}) {
    std::vector<float> back(static_cast<size_t>(n));
    kernels::dequantize_row(type == "q8_0" ? QuantType::Q8_0 : QuantType::Q4_0, raw.data(),
                            back.data(), n);
    const std::string ref = reference(type, {}, true, raw, dir);
    EXPECT_EQ(bytes_of(back.data(), back.size() * 4), ref) << type;
  }
}

TEST(QuantFormat, HalfAndBfloat16RoundToNearestEvenLikeNumpy) {
  const testing::TempDir dir("quant_half");
  std::vector<float> x = test_blocks();
  // Halfway cases, overflow, subnormals, infinities and NaN.
  for (float v : {65504.f, 65519.f, 65520.f, 1e9f, 6e-8f, 3e-8f, 2.98e-8f, 1.0009765625f,
                  1.00048828125f, 1.00146484375f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::nanf(""), 1.00390625f, 1.001953125f,
                  3.4e38f, -1e-40f})
    x.push_back(v);
  for (const std::string type : {"f16", "bf16"}) {
    std::vector<uint16_t> ours(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      ours[i] = type == "f16" ? kernels::fp32_to_fp16(x[i]) : kernels::fp32_to_bf16(x[i]);
    const std::string ref = reference(type, x, false, "", dir);
    ASSERT_EQ(ref.size(), ours.size() * 2) << type;
    for (size_t i = 0; i < x.size(); ++i) {
      uint16_t r;
      std::memcpy(&r, ref.data() + 2 * i, 2);
      EXPECT_EQ(ours[i], r) << type << " of " << x[i];
      // and back: the widening is exact
      const float back =
          type == "f16" ? kernels::fp16_to_fp32(ours[i]) : kernels::bf16_to_fp32(ours[i]);
      if (!std::isnan(x[i])) {
        const uint16_t again =
            type == "f16" ? kernels::fp32_to_fp16(back) : kernels::fp32_to_bf16(back);
        EXPECT_EQ(again, ours[i]) << type << " round trip of " << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace tinyr2
