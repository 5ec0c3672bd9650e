// A LoRA adapter directory (SPEC §12, PEFT's format): adapter_model.safetensors (F32,
// base_model.model.<module>.lora_A.weight / .lora_B.weight) and adapter_config.json
// (peft_type "LORA", r, lora_alpha, lora_dropout, target_modules — the resolved module
// names —, base_model_name_or_path, base_model_sha256 = hex sha256 of the base's
// model.safetensors). Every problem reading one is one tinyr2::Error line naming the file.
#pragma once

#include <memory>
#include <string>

#include "nn/lora.h"
#include "nn/model.h"

namespace tinyr2::nn {

struct AdapterConfig {
  LoraSpec spec;  // targets = target_modules
  std::string base_model_name_or_path, base_model_sha256;
};

// Reads and checks adapter_config.json (bounded JSON reader; unknown PEFT keys are ignored).
AdapterConfig read_adapter_config(const std::string& path);
// The same from parsed JSON; `path` names it in messages.
AdapterConfig parse_adapter_config(const nlohmann::json& j, const std::string& path);

void save_adapter(const std::string& dir, const LoraAdapters& adapters,
                  const std::string& base_name, const std::string& base_sha256);

// The adapters of `dir` on `model`, whose directory is `base` (a model directory: its
// model.safetensors must hash to base_model_sha256; a GGUF file is not checked). Strict:
// every target module must be a Linear of the model, every tensor present with its shape.
std::shared_ptr<LoraAdapters> load_adapter(const std::string& dir, const Model& model,
                                           const std::string& base);

// Loads the model `base` (Model::load, ctx as there) with the adapter of `lora_dir` attached
// (none when empty): --lora on generate / eval / logits / serve.
std::unique_ptr<Model> load_with_lora(const std::string& base, const std::string& lora_dir,
                                      int64_t ctx = 0);

}  // namespace tinyr2::nn
