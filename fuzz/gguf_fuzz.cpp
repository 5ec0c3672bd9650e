// Fuzz target for the GGUF reader (SPEC §13): any bytes, read as a whole .gguf file
// (io::parse_gguf), give a GgufFile or a one-line tinyr2::Error — never a crash, a read
// outside the bytes or other undefined behaviour. On success every tensor must lie inside the
// bytes with exactly rows · row_bytes of data, and each of its rows is dequantized
// (kernels/quant_format.h) so that ASan sees any byte a bad offset would make a loader read.
// See README.md.
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_main.h"
#include "io/gguf.h"
#include "kernels/quant_format.h"

namespace {

using tinyr2::io::GgufFile;
using tinyr2::io::GgufTensor;
using tinyr2::io::GgufValue;
namespace k = tinyr2::kernels;

void check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "gguf_fuzz: %s: %.200s\n", what, detail.c_str());
  std::abort();
}

void touch(const GgufFile& f, const uint8_t* base, size_t size) {
  for (const GgufTensor& t : f.tensors) {
    check(k::is_known_quant_type(t.type), "an unknown tensor type accepted", t.name);
    check(t.dims.size() <= 4, "more than 4 dims accepted", t.name);
    const int64_t numel = t.numel();
    check(numel >= 0, "a negative element count", t.name);
    const auto type = static_cast<k::QuantType>(t.type);
    if (numel == 0) {
      check(t.bytes == 0, "an empty tensor with bytes", t.name);
      continue;
    }
    const int64_t cols = t.dims.at(0), rows = numel / cols;
    check(cols % k::quant_block_elems(type) == 0, "a row of partial blocks", t.name);
    const int64_t row_bytes = k::quant_row_bytes(type, cols);
    check(t.bytes == rows * row_bytes, "bytes != rows * row bytes", t.name);
    check(t.data >= base && t.data + t.bytes <= base + size, "tensor data outside the file",
          t.name);
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r)
      k::dequantize_row(type, t.data + r * row_bytes, row.data(), cols);
  }
  for (const auto& [key, v] : f.metadata) {
    check(f.find(key) == &v, "find() misses a key or a duplicate key accepted", key);
    if (v.type == tinyr2::io::GgufType::STRING) f.get_string(key, "fuzz.gguf");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy, so that a read one byte past the end is an ASan report.
  auto bytes = std::make_shared<std::vector<uint8_t>>(data, data + size);
  const uint8_t* base = bytes->data();
  try {
    const GgufFile f = tinyr2::io::parse_gguf(base, size, bytes, "fuzz.gguf");
    touch(f, base, size);
  } catch (const tinyr2::Error& e) {
    const std::string m = e.what();
    check(m.find('\n') == std::string::npos && m.size() < 1000, "a long or multi-line message", m);
  }
  return 0;
}

namespace {

// A tensor of `type` with `dims` (innermost first), quantized from a ramp.
tinyr2::io::GgufTensorOut tensor(const std::string& name, k::QuantType type,
                                 std::vector<int64_t> dims) {
  int64_t numel = 1;
  for (const int64_t d : dims) numel *= d;
  const int64_t cols = dims.at(0), rows = numel / cols;
  tinyr2::io::GgufTensorOut t{name, dims, static_cast<uint32_t>(type), {}};
  t.bytes.resize(static_cast<size_t>(rows * k::quant_row_bytes(type, cols)));
  std::vector<float> x(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) x[c] = 0.25f * static_cast<float>(c - r) - 1.0f;
    k::quantize_row(type, x.data(), t.bytes.data() + r * k::quant_row_bytes(type, cols), cols);
  }
  return t;
}

std::string write_and_read(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                           const std::vector<tinyr2::io::GgufTensorOut>& tensors) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tinyr2_gguf_fuzz_seed_" + std::to_string(::getpid()) + ".gguf");
  tinyr2::io::write_gguf(path.string(), metadata, tensors);
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return s;
}

}  // namespace

std::vector<std::string> fuzz_seeds() {
  const std::vector<std::pair<std::string, GgufValue>> meta = {
      {"general.architecture", GgufValue::string("tinyr2")},
      {"tinyr2.context_length", GgufValue::uint32(64)},
      {"tinyr2.rope.shift", GgufValue::int32(-3)},
      {"tokenizer.ggml.tokens", GgufValue::strings({"a", "b", "<|endoftext|>"})}};
  return {
      write_and_read(meta, {tensor("token_embd.weight", k::QuantType::Q8_0, {32, 3}),
                            tensor("blk.0.attn_q.weight", k::QuantType::Q4_0, {64, 2}),
                            tensor("output_norm.weight", k::QuantType::F32, {5}),
                            tensor("blk.0.ffn_up.weight", k::QuantType::BF16, {4, 2, 1}),
                            tensor("blk.0.ffn_down.weight", k::QuantType::F16, {3, 2})}),
      write_and_read(meta, {}),
      write_and_read({}, {tensor("w", k::QuantType::Q8_0, {32, 1, 1, 2})}),
  };
}
