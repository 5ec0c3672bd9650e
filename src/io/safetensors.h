// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__":
// {str: str}}, then the raw little-endian data.
//
// The reader is defensive (SPEC §4): the header length and JSON size are bounded, every
// entry is checked (known dtype, non-negative shape, byte count = numel × dtype size), and
// the data offsets must tile the data section exactly, in order, without gaps or overlaps.
// Any violation throws tinyr2::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tinyr2::io {

// Integer tensors (token ids, indices) are kept apart from the float tensors.
struct IntTensor {
  Shape shape;
  std::vector<int64_t> values;
};

struct SafetensorsData {
  std::map<std::string, Tensor> tensors;         // F32, BF16 and F16 entries, as float32
  std::map<std::string, IntTensor> int_tensors;  // I8..I64, U8..U64, BOOL entries
  std::map<std::string, std::string> metadata;   // "__metadata__"
};

enum class FloatFormat { F32, BF16 };

SafetensorsData load_safetensors(const std::string& path);
SafetensorsData parse_safetensors(const std::vector<char>& bytes, const std::string& name);

// Writes to "<path>.tmp" and renames, so a crash never leaves a half-written file.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      FloatFormat format = FloatFormat::F32,
                      const std::map<std::string, IntTensor>& int_tensors = {});

}  // namespace tinyr2::io
