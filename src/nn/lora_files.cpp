#include "nn/lora_files.h"

#include <filesystem>

#include "core/error.h"
#include "io/file_io.h"
#include "io/json_fields.h"
#include "io/json_reader.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "nn/gguf_model.h"

namespace tinyr2::nn {

namespace {

constexpr const char* kModelFile = "adapter_model.safetensors";
constexpr const char* kConfigFile = "adapter_config.json";

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

AdapterConfig read_adapter_config(const std::string& path) {
  return parse_adapter_config(io::read_json_file(path, {.max_bytes = 4u << 20}, "adapter config"),
                              path);
}

AdapterConfig parse_adapter_config(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) fail("{}: expected a JSON object, got {}", path, io::json_excerpt(j));
  io::JsonFields f(j, path);
  AdapterConfig c;
  std::string peft_type;
  f.choice("peft_type", peft_type, {"LORA"});
  if (!f.has("peft_type")) f.error("peft_type", "missing (expected \"LORA\")");
  for (const char* key : {"r", "lora_alpha", "target_modules", "base_model_sha256"})
    if (!f.has(key)) f.error(key, "missing");
  f.integer("r", c.spec.rank, 1, 1 << 20);
  f.number("lora_alpha", c.spec.alpha, 0, 1e9, true);
  f.number("lora_dropout", c.spec.dropout, 0, 1);
  if (c.spec.dropout >= 1) f.error("lora_dropout", "must be below 1");
  const nlohmann::json& tm = f.raw("target_modules");
  if (!tm.is_array() || tm.empty()) f.error("target_modules", "expected a non-empty array");
  c.spec.targets.clear();
  for (const auto& m : tm) {
    if (!m.is_string() || m.get<std::string>().empty())
      f.error("target_modules", "expected module names, got " + io::json_excerpt(m));
    c.spec.targets.push_back(m.get<std::string>());
  }
  const nlohmann::json& sha = f.raw("base_model_sha256");
  if (!sha.is_string() || !is_hex64(sha.get<std::string>()))
    f.error("base_model_sha256", "expected 64 lowercase hex digits, got " + io::json_excerpt(sha));
  c.base_model_sha256 = sha.get<std::string>();
  if (f.has("base_model_name_or_path")) {
    const nlohmann::json& b = f.raw("base_model_name_or_path");
    if (!b.is_string() && !b.is_null()) f.error("base_model_name_or_path", "expected a string");
    if (b.is_string()) c.base_model_name_or_path = b.get<std::string>();
  }
  // PEFT's other keys (task_type, bias, fan_in_fan_out, ...) are accepted as they are.
  for (const auto& [key, value] : j.items()) f.ignore(key);
  return c;
}

void save_adapter(const std::string& dir, const LoraAdapters& adapters,
                  const std::string& base_name, const std::string& base_sha256) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir, ec.message());
  const LoraSpec& s = adapters.spec();
  nlohmann::json j = {{"peft_type", "LORA"},
                      {"task_type", "CAUSAL_LM"},
                      {"r", s.rank},
                      {"lora_alpha", s.effective_alpha()},
                      {"lora_dropout", s.dropout},
                      {"target_modules", adapters.modules()},
                      {"bias", "none"},
                      {"fan_in_fan_out", false},
                      {"base_model_name_or_path", base_name},
                      {"base_model_sha256", base_sha256}};
  io::save_safetensors(dir + "/" + kModelFile, adapters.state_dict(), {{"format", "pt"}});
  io::write_file_atomically(dir + "/" + kConfigFile, j.dump(2) + "\n");
}

std::shared_ptr<LoraAdapters> load_adapter(const std::string& dir, const Model& model,
                                           const std::string& base) {
  if (!std::filesystem::is_directory(dir)) fail("{}: not a LoRA adapter directory", dir);
  const std::string config_path = dir + "/" + kConfigFile;
  const AdapterConfig c = read_adapter_config(config_path);
  if (!is_gguf_path(base)) {
    const std::string base_file = base + "/model.safetensors";
    const std::string sha = io::sha256_file_hex(base_file);
    if (sha != c.base_model_sha256)
      fail("{}: the adapter was trained on another base model (base_model_sha256 {}…, {} has {}…)",
           config_path, c.base_model_sha256.substr(0, 12), base_file, sha.substr(0, 12));
  }
  std::shared_ptr<LoraAdapters> a;
  try {
    a = std::make_shared<LoraAdapters>(model.params, c.spec);
  } catch (const Error& e) {
    fail("{}: {}", config_path, e.what());
  }
  if (a->all().size() != c.spec.targets.size())
    fail("{}: target_modules names {} modules, {} of them are Linears of the model", config_path,
         c.spec.targets.size(), a->all().size());
  const std::string model_path = dir + "/" + kModelFile;
  a->load_state_dict(io::load_safetensors(model_path).tensors, model_path);
  return a;
}

std::unique_ptr<Model> load_with_lora(const std::string& base, const std::string& lora_dir,
                                      int64_t ctx) {
  std::unique_ptr<Model> m = Model::load(base, ctx);
  if (!lora_dir.empty()) m->lora = load_adapter(lora_dir, *m, base);
  return m;
}

}  // namespace tinyr2::nn
