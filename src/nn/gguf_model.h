// Models as GGUF v3 files (SPEC §13): `tinyr2 quantize` writes them, Model::load reads them.
//
// Writing: every tensor of the model under its §3 name, dims innermost first (a scalar as a
// 1-element 1-D tensor), of the type §13 gives it under the file's type (gguf_tensor_type),
// and the keys general.architecture "tinyr2", general.name, general.quantization_version 2,
// general.file_type, tinyr2.config (the config.json text unchanged), tokenizer.ggml.model
// "gpt2", .tokens (all 50257), .merges, .eos_token_id 50256.
//
// Reading: the file is mapped and checked (io/gguf.h); every tensor of the config's model must
// be there with its shape. F32 / F16 / BF16 tensors are widened into the model's float32
// tensors; Q8_0 / Q4_0 matrices stay in the mapped file and the model's products use them
// directly (nn/quantized.h) — no dequantized copy of a weight matrix exists.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/quant_format.h"
#include "nn/model.h"

namespace tinyr2::nn {

struct GgufVocab {
  std::vector<std::string> tokens;  // by id, GPT-2's byte-level strings (encoder.json keys)
  std::vector<std::string> merges;  // "a b" lines of vocab.bpe, in rank order
};

// `path` names a GGUF file (ends in .gguf, or is a regular file starting with "GGUF").
bool is_gguf_path(const std::string& path);

// The type SPEC §13 gives the tensor `name` of `shape` in a file of type `kind` (F32, BF16,
// Q8_0 or Q4_0).
kernels::QuantType gguf_tensor_type(const std::string& name, const Shape& shape,
                                    kernels::QuantType kind);

void save_gguf(const Model& model, const std::string& config_text, const std::string& model_name,
               const GgufVocab& vocab, kernels::QuantType kind, const std::string& path);

// ctx: `--ctx N` (SPEC §10, nn::with_context_limit); 0 keeps the config's ctx_len.
std::unique_ptr<Model> load_gguf(const std::string& path, int64_t ctx = 0);

}  // namespace tinyr2::nn
