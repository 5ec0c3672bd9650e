#include "nn/gguf_model.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/gguf.h"
#include "io/json_reader.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ggml's llama_ftype numbers for general.file_type.
uint32_t file_type(kernels::QuantType kind) {
  switch (kind) {
    case kernels::QuantType::F32:
      return 0;
    case kernels::QuantType::F16:
      return 1;
    case kernels::QuantType::Q4_0:
      return 2;
    case kernels::QuantType::Q8_0:
      return 7;
    case kernels::QuantType::BF16:
      return 32;
  }
  return 0;
}

}  // namespace

bool is_gguf_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return false;
  if (ends_with(path, ".gguf")) return true;
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

kernels::QuantType gguf_tensor_type(const std::string& name, const Shape& shape,
                                    kernels::QuantType kind) {
  using kernels::QuantType;
  if (kind == QuantType::F32) return QuantType::F32;
  if (kind == QuantType::BF16 || kind == QuantType::F16)
    return shape.size() >= 2 ? kind : QuantType::F32;  // 1-D tensors and scalars stay F32
  TINYR2_CHECK(kind == QuantType::Q8_0 || kind == QuantType::Q4_0,
               "gguf_tensor_type: unsupported file type");
  if (shape.size() != 2 || shape[1] % kernels::kQuantBlock != 0) return QuantType::F32;
  // The tied embedding / head: Q8_0 under both q8_0 and q4_0.
  if (name == "token_embedding_table.weight") return QuantType::Q8_0;
  // The weight of a Linear module (2-D "<module>.weight"), except routers, gates and dt_proj.
  if (!ends_with(name, ".weight") || name == "position_embedding_table.weight")
    return QuantType::F32;
  for (const char* keep : {"ffn.gate.", "ffn.router.", "branch_gate.", "dt_proj."})
    if (contains(name, keep)) return QuantType::F32;
  return kind;
}

void save_gguf(const Model& model, const std::string& config_text, const std::string& model_name,
               const GgufVocab& vocab, kernels::QuantType kind, const std::string& path) {
  TINYR2_CHECK(!model.quantized, "save_gguf: the model is already quantized");
  using io::GgufValue;
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("general.architecture", GgufValue::string("tinyr2"));
  kv.emplace_back("general.name", GgufValue::string(model_name));
  kv.emplace_back("general.quantization_version", GgufValue::uint32(2));
  kv.emplace_back("general.file_type", GgufValue::uint32(file_type(kind)));
  kv.emplace_back("tinyr2.config", GgufValue::string(config_text));
  kv.emplace_back("tokenizer.ggml.model", GgufValue::string("gpt2"));
  kv.emplace_back("tokenizer.ggml.tokens", GgufValue::strings(vocab.tokens));
  kv.emplace_back("tokenizer.ggml.merges", GgufValue::strings(vocab.merges));
  kv.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::uint32(50256));

  std::vector<io::GgufTensorOut> tensors;
  for (const NamedTensor& e : model.params.all()) {
    const Shape& shape = e.tensor.shape();
    const kernels::QuantType type = gguf_tensor_type(e.name, shape, kind);
    io::GgufTensorOut t;
    t.name = e.name;
    t.type = static_cast<uint32_t>(type);
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) t.dims.push_back(*it);
    if (t.dims.empty()) t.dims.push_back(1);  // a scalar: one element, 1-D
    const int64_t cols = t.dims[0], rows = e.tensor.numel() / std::max<int64_t>(cols, 1);
    const int64_t row_bytes = kernels::quant_row_bytes(type, cols);
    t.bytes.resize(static_cast<size_t>(rows * row_bytes));
    for (int64_t r = 0; r < rows; ++r)
      kernels::quantize_row(type, e.tensor.data() + r * cols, t.bytes.data() + r * row_bytes, cols);
    tensors.push_back(std::move(t));
  }
  io::write_gguf(path, kv, tensors);
}

std::unique_ptr<Model> load_gguf(const std::string& path, int64_t ctx) {
  const io::GgufFile file = io::read_gguf(path);
  const std::string& arch = file.get_string("general.architecture", path);
  if (arch != "tinyr2") fail("{}: general.architecture is \"{}\", not \"tinyr2\"", path, arch);
  const nlohmann::json j =  // the bounded reader: nesting, sizes, duplicate keys (issue 19)
      io::parse_json(file.get_string("tinyr2.config", path), path + ": tinyr2.config");
  ModelConfig cfg;
  try {
    cfg = ModelConfig::from_json(j);
  } catch (const Error& e) {
    fail("{}: tinyr2.config: {}", path, e.what());
  }

  std::set<std::string> quantized_names;
  for (const io::GgufTensor& t : file.tensors)
    if (t.type == static_cast<uint32_t>(kernels::QuantType::Q8_0) ||
        t.type == static_cast<uint32_t>(kernels::QuantType::Q4_0))
      quantized_names.insert(t.name);
  // SPEC §10 --ctx, as Model::load: a RoPE model is built for the new limit (and NTK scale).
  const ModelConfig run_cfg = ctx != 0 ? with_context_limit(cfg, ctx) : cfg;
  auto model = std::make_unique<Model>(run_cfg.pos_embedding == PosEmbedding::Rope ? run_cfg : cfg,
                                       quantized_names);
  auto weights = std::make_shared<QuantizedWeights>();
  weights->path = quant_path_for(cpu::cpu_features());

  for (const io::GgufTensor& t : file.tensors)
    if (!model->params.find(t.name))
      fail("{}: unexpected tensor \"{}\" (not a parameter of this model)", path, t.name);
  for (const NamedTensor& e : model->params.all()) {
    const io::GgufTensor* t = file.tensor(e.name);
    if (!t) fail("{}: missing tensor \"{}\"", path, e.name);
    const Shape& shape = e.tensor.shape();
    std::vector<int64_t> want(shape.rbegin(), shape.rend());
    if (want.empty()) want.push_back(1);
    if (t->dims != want) {
      const Shape got(t->dims.rbegin(), t->dims.rend());
      fail("{}: tensor \"{}\" has shape {}, the config needs {}", path, e.name, shape_str(got),
           shape_str(shape));
    }
    const auto type = static_cast<kernels::QuantType>(t->type);
    if (quantized_names.count(e.name)) {
      if (shape.size() != 2)
        fail("{}: tensor \"{}\" of shape {} cannot be {} (only matrices)", path, e.name,
             shape_str(shape), kernels::quant_type_name(type));
      weights->by_tensor[e.tensor.data()] = {type, shape[0], shape[1], t->data, file.mapping};
    } else {
      Tensor dst = e.tensor;  // a handle to the model's own storage
      kernels::dequantize_row(type, t->data, dst.data(), e.tensor.numel());
    }
  }
  if (!weights->by_tensor.empty()) model->quantized = std::move(weights);
  model->cfg.ctx_len = run_cfg.ctx_len;
  return model;
}

}  // namespace tinyr2::nn
