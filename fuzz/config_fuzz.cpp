// Fuzz target for the config reader: any bytes, read as a config file is (io::parse_json,
// then train::RunConfig::from_json — the model keys and the "train" section), and as a --set
// override (KEY=VALUE applied to a valid config), must give a config or a tinyr2::Error with a
// one-line message of bounded length — never a crash, a hang, an exception of another type,
// or undefined behaviour (under the sanitizers). See README.md.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "fuzz_main.h"
#include "io/json_reader.h"
#include "train/train_config.h"

namespace {

void check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "config_fuzz: %s: %.200s\n", what, detail.c_str());
  std::abort();
}

void check_message(const tinyr2::Error& e) {
  const std::string m = e.what();
  check(m.find('\n') == std::string::npos, "a message of more than one line", m);
  check(m.size() < 1000, "a message over 1000 bytes", m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = tinyr2::io::parse_json(text, "fuzz.json");
    if (j.is_object()) {
      const tinyr2::train::RunConfig rc = tinyr2::train::RunConfig::from_json(j);
      // What is accepted round-trips: written and read again, the same config.
      const auto again = tinyr2::train::RunConfig::from_json(rc.to_json());
      check(again.to_json() == rc.to_json(), "to_json/from_json round trip differs", text);
    }
  } catch (const tinyr2::Error& e) {
    check_message(e);
  }
  try {
    nlohmann::json base = nlohmann::json::object();
    tinyr2::train::apply_override(base, text);
    tinyr2::train::RunConfig::from_json(base);
  } catch (const tinyr2::Error& e) {
    check_message(e);
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      R"({"vocab_size": 50257, "ctx_len": 256, "n_embd": 256, "n_head": 4, "n_layer": 4,
          "attention_types": ["FULL", "Sparse"], "attention_mode": ["NSA"],
          "types": ["mlp", "moe"], "n_experts": 8, "num_exp": 2, "hc": true,
          "hc_num_streams": 4, "mhc": true,
          "train": {"batch_size": 8, "grad_accum": 1, "max_iters": 200, "warmup_iters": 20,
                    "lr": 1e-3, "min_lr": 1e-4, "muon_lr": 0.02, "eval_interval": 50,
                    "eval_iters": 10, "checkpoint_interval": 50, "val_fraction": 0.05,
                    "seed": 1337, "keep_checkpoints": 3, "betas": [0.9, 0.95]}})",
      R"({"n_embd": 32, "n_head": 2, "attention_mode": [[1, 0, 1], "SWA"], "ns_coeffs": [3, -3.2, 1.2],
          "branch_gate": "sigmoid", "mhc_h_res_proj": "orthostochastic", "rope_theta": 1e4,
          "block_size": 8, "block_stride": 4, "select_block_size": 8, "num_tokens_to_keep": 24})",
      "train.lr=3e-3",
      "n_layer=2",
      "branch_gate=sigmoid",
      "train.betas=[0.9,0.99]",
      R"(attention_mode=[[1,1,0]])",
  };
}
