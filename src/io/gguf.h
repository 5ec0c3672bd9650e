// GGUF v3 files (SPEC §13; the format of ggml / llama.cpp, described in ggml's gguf docs):
//   "GGUF", u32 version = 3, u64 tensor count, u64 key-value count,
//   key-values   (string key, u32 value type, value; arrays: u32 element type, u64 count, ...),
//   tensor infos (string name, u32 n_dims, u64 dims innermost first, u32 ggml type,
//                 u64 offset from the start of the data section),
//   padding to the alignment (general.alignment, default 32), the data section.
// Strings are u64 length + bytes, everything little-endian.
//
// The reader is defensive: the magic, the version, bounded counts and string lengths, known
// value and tensor types, at most 4 dims with a bounded product, rows made of whole blocks,
// offsets aligned and inside the file, tensors that do not overlap, no duplicate keys or
// names. Any violation throws tinyr2::Error naming the file and the problem; nothing is read
// outside the file. The file is mapped read-only, and tensors point into the mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tinyr2::io {

// GGUF metadata value types.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12
};

struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType array_type = GgufType::U32;  // the element type of an ARRAY
  uint64_t u = 0;                       // unsigned integers and BOOL
  int64_t i = 0;                        // signed integers
  double f = 0;                         // F32, F64
  std::string str;                      // STRING
  std::vector<std::string> strs;        // ARRAY of STRING
  std::vector<int64_t> ints;            // ARRAY of integers or BOOL
  std::vector<double> floats;           // ARRAY of F32 / F64

  static GgufValue string(std::string s);
  static GgufValue uint32(uint32_t v);
  static GgufValue int32(int32_t v);
  static GgufValue strings(std::vector<std::string> v);
};

// ggml tensor types the reader knows (ids of ggml.h), with their block sizes.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  int64_t block_elems, block_bytes;
};
const GgmlTypeInfo* ggml_type_info(uint32_t id);  // nullptr when unknown

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // innermost first, as in the file
  uint32_t type = 0;          // ggml type id
  uint64_t offset = 0;        // from the start of the data section
  const uint8_t* data = nullptr;
  int64_t bytes = 0;
  int64_t numel() const;
};

struct GgufFile {
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensor> tensors;                          // in file order
  std::shared_ptr<const void> mapping;                      // keeps `data` pointers valid
  size_t file_size = 0;

  const GgufValue* find(const std::string& key) const;
  const GgufTensor* tensor(const std::string& name) const;
  // The value of `key`, which must exist with that type (errors name the key and `path`).
  const std::string& get_string(const std::string& key, const std::string& path) const;
};

// Maps and checks `path`.
GgufFile read_gguf(const std::string& path);
// Checks `bytes` (kept alive by `owner`) as the contents of a file called `name`.
GgufFile parse_gguf(const uint8_t* bytes, size_t size, std::shared_ptr<const void> owner,
                    const std::string& name);

struct GgufTensorOut {
  std::string name;
  std::vector<int64_t> dims;  // innermost first
  uint32_t type = 0;
  std::vector<uint8_t> bytes;
};

// Writes a GGUF v3 file with alignment 32, to "<path>.tmp" then renamed.
void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<GgufTensorOut>& tensors);

}  // namespace tinyr2::io
