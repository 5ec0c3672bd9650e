// The small model configuration that the model tests merge their cases over (parity with
// the reference, parameter counts, decoding): every SPEC §2 feature fits it at toy widths.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "nn/config.h"

namespace tinyr2::testing {

inline constexpr const char* kSmallModelBase = R"({
  "vocab_size": 101, "ctx_len": 128, "n_embd": 32, "n_head": 2, "n_layer": 2,
  "attention_types": ["FULL"], "types": ["mlp"], "n_experts": 4, "num_exp": 2, "moe_hidden": 24,
  "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
  "v_head_dim": 8, "block_size": 8, "block_stride": 8, "compress_hidden": 24,
  "select_block_size": 8, "num_tokens_to_keep": 24, "select_init_blocks": 1,
  "select_local_blocks": 1, "window_size": 12, "hc": false, "hc_num_streams": 3,
  "init_std": 0.1})";

// kSmallModelBase with the keys of `extra` (JSON object text) merged over it.
inline nn::ModelConfig small_model_config(const std::string& extra) {
  nlohmann::json j = nlohmann::json::parse(kSmallModelBase);
  j.update(nlohmann::json::parse(extra));
  return nn::ModelConfig::from_json(j);
}

}  // namespace tinyr2::testing
