// Fuzz target for the LoRA adapter_config.json reader (SPEC §12, nn/lora_files.h): any bytes,
// parsed by io::parse_json and read by nn::parse_adapter_config, give a config that keeps the
// reader's promises (rank ≥ 1, alpha > 0, dropout in [0, 1), module names, a 64-digit hex
// sha256) or a one-line tinyr2::Error — never a crash or undefined behaviour. See README.md.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "fuzz_main.h"
#include "io/json_reader.h"
#include "nn/lora_files.h"

namespace {

void check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "adapter_fuzz: %s: %.200s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = tinyr2::io::parse_json(text, "adapter_config.json");
    const tinyr2::nn::AdapterConfig c = tinyr2::nn::parse_adapter_config(j, "adapter_config.json");
    const tinyr2::nn::LoraSpec& s = c.spec;
    check(s.rank >= 1 && s.alpha > 0 && s.dropout >= 0 && s.dropout < 1, "bad numbers accepted",
          text);
    check(!s.targets.empty() && c.base_model_sha256.size() == 64, "bad targets or sha accepted",
          text);
    for (const std::string& t : s.targets) check(!t.empty(), "an empty module name accepted", text);
  } catch (const tinyr2::Error& e) {
    const std::string m = e.what();
    check(m.find('\n') == std::string::npos && m.size() < 1000, "a long or multi-line message", m);
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      R"({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16.0,
          "lora_dropout": 0.05, "target_modules": ["blocks.0.attn.c_attn", "blocks.0.ffn.c_fc"],
          "bias": "none", "fan_in_fan_out": false, "base_model_name_or_path": "runs/x/best",
          "base_model_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"})",
      R"({"peft_type": "LORA", "r": 1, "lora_alpha": 1, "target_modules": ["c_proj"],
          "base_model_name_or_path": null,
          "base_model_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})",
  };
}
