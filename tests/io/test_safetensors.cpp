// safetensors: round trips (F32, BF16, integers, metadata) and every kind of malformed
// file giving a clear tinyr2::Error instead of a crash or an out-of-bounds read.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"

namespace tinyr2 {

namespace {

std::vector<char> file_bytes(const std::string& header, size_t data_bytes) {
  std::vector<char> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

// Expects parse to fail with a message containing `needle`.
void expect_error(const std::vector<char>& bytes, const std::string& needle) {
  try {
    io::parse_safetensors(bytes, "bad.safetensors");
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tinyr2_test_" + name)).string();
}

}  // namespace

TEST(Safetensors, RoundTripF32IntsAndMetadata) {
  Tensor a = Tensor::empty({3, 5});
  Rng(3).normal(a.data(), a.numel());
  Tensor s = Tensor::scalar(0.5f);
  io::IntTensor ids{{2, 2}, {1, -2, 50256, 7}};
  const std::string path = tmp_path("rt.safetensors");
  io::save_safetensors(path, {{"blocks.0.w", a}, {"lamb", s}}, {{"format", "pt"}},
                       io::FloatFormat::F32, {{"ids", ids}});
  io::SafetensorsData d = io::load_safetensors(path);
  ASSERT_EQ(d.tensors.size(), 2u);
  EXPECT_EQ(d.tensors["blocks.0.w"].to_vector(), a.to_vector());
  EXPECT_EQ(d.tensors["blocks.0.w"].shape(), (Shape{3, 5}));
  EXPECT_EQ(d.tensors["lamb"].shape(), Shape{});
  EXPECT_EQ(d.int_tensors["ids"].values, ids.values);
  EXPECT_EQ(d.metadata["format"], "pt");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove(path);
}

TEST(Safetensors, RoundTripBF16RoundsToNearest) {
  Tensor a =
      Tensor::from_vector({4}, {1.0f, 1.00390625f /* 1 + 2^-8: tie → even */, -3.1415926f, 1e-20f});
  const std::string path = tmp_path("bf16.safetensors");
  io::save_safetensors(path, {{"a", a}}, {}, io::FloatFormat::BF16);
  Tensor b = io::load_safetensors(path).tensors["a"];
  EXPECT_EQ(b.data()[0], 1.0f);
  EXPECT_EQ(b.data()[1], 1.0f);
  EXPECT_NEAR(b.data()[2], -3.1415926f, 3.1415926f / 256);
  EXPECT_NEAR(b.data()[3], 1e-20f, 1e-22f);
  EXPECT_EQ(std::filesystem::file_size(path) % 8, 0u);
  std::filesystem::remove(path);
}

TEST(Safetensors, RejectsMalformedFiles) {
  expect_error({}, "shorter than the 8-byte header");
  expect_error(std::vector<char>(5, 0), "shorter than the 8-byte header");
  {  // header length beyond the file
    auto b = file_bytes("{}", 0);
    uint64_t n = 1000;
    std::memcpy(b.data(), &n, 8);
    expect_error(b, "runs past the end");
  }
  {  // header length beyond any sane bound
    auto b = file_bytes("{}", 0);
    uint64_t n = 1ull << 60;
    std::memcpy(b.data(), &n, 8);
    expect_error(b, "exceeds the limit");
  }
  expect_error(file_bytes("{\"a\": {", 0), "safetensors header: invalid JSON");
  expect_error(file_bytes("[1,2]", 0), "not a JSON object");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
               "run past");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
               "expected 12");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          12),
               "overlap");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "gap");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12),
               "tensors cover 4");
  expect_error(file_bytes(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4),
               "unsupported dtype");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
               "non-negative");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
               "reversed");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "needs dtype");
  expect_error(file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],)"
                          R"("data_offsets":[0,4]}})",
                          4),
               "too large");
  expect_error(file_bytes(R"({"__metadata__":{"k":1}})", 0), "not a string");
}

TEST(Safetensors, MissingFileIsAnError) {
  EXPECT_THROW(io::load_safetensors("/nonexistent/x.safetensors"), Error);
}

}  // namespace tinyr2
