// Fuzz target for the safetensors reader (io::parse_safetensors, the whole file in memory):
// any bytes give tensors whose sizes match their shapes, or a one-line tinyr2::Error — never a
// crash, an out-of-bounds read or undefined behaviour. Accepted files round-trip through
// save_safetensors... in memory: the tensors' element counts are checked. See README.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_main.h"
#include "io/safetensors.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "safetensors_fuzz: %s\n", what);
  std::abort();
}

std::string file(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(s.data(), &n, 8);
  return s + header + std::string(data_bytes, '\x01');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes(data, data + size);
  try {
    const tinyr2::io::SafetensorsData d = tinyr2::io::parse_safetensors(bytes, "fuzz.safetensors");
    size_t total = 0;
    for (const auto& [name, t] : d.tensors) total += static_cast<size_t>(t.numel());
    for (const auto& [name, t] : d.int_tensors) total += t.values.size();
    check(total <= size, "more elements than bytes in the file");
  } catch (const tinyr2::Error& e) {
    const std::string m = e.what();
    check(m.find('\n') == std::string::npos && m.size() < 1000, "a long or multi-line message");
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      file(
          R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
          R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})",
          32),
      file(R"({"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
           R"("h":{"dtype":"F16","shape":[1,1],"data_offsets":[16,18]},)"
           R"("u":{"dtype":"U8","shape":[],"data_offsets":[18,19]}})",
           19),
      file(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0),
  };
}
