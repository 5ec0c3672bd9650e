// The model configurations the decoding tests run: every configuration of the model parity
// suites (tests/nn/test_model_parity.cpp, same JSON over the same small base) plus two at
// larger widths, each with a sequence length that spans several compression and selection
// blocks and wraps the sliding window.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config.h"
#include "support/small_model.h"

namespace tinyr2::infer::testing {

struct DecodeCase {
  std::string name;
  std::string config;  // JSON merged over kBase (or over the defaults when `defaults`)
  int64_t T = 100;     // tokens decoded
  bool defaults = false;
};

inline void PrintTo(const DecodeCase& c, std::ostream* os) {
  *os << c.name;
}

// The parity suites' base with a longer context: T = 100 covers 12 blocks of l = 8, 8 windows
// of w = 12 and 4× the n·l′ = 24 selected tokens.
inline constexpr const char* kBase = tinyr2::testing::kSmallModelBase;

inline const std::vector<DecodeCase>& decode_cases() {
  static const std::vector<DecodeCase> cases = {
      // SPEC §2.1, 2.4, 2.5 (the parity suite's core cases)
      {"full_mlp", R"({})"},
      {"full_v_residual", R"({"v_residual": true, "n_layer": 3})"},
      {"moe_num_exp2", R"({"types": ["moe"], "n_experts": 4, "num_exp": 2})"},
      {"moe_num_exp3", R"({"types": ["moe"], "n_experts": 5, "num_exp": 3})"},
      {"mhc_sinkhorn", R"({"types": ["mlp", "moe"], "hc": true})"},
      {"mhc_orthostochastic", R"({"hc": true, "mhc_h_res_proj": "orthostochastic"})"},
      {"dynamic_hc", R"({"types": ["moe", "mlp"], "hc": true, "mhc": false})"},
      {"hc_one_stream", R"({"hc": true, "hc_num_streams": 1})"},
      {"everything_full", R"({"v_residual": true, "n_layer": 3, "types": ["moe"], "n_experts": 5,
                              "num_exp": 3, "hc": true, "mhc": true})"},
      // SPEC §2.3 (the parity suite's Sparse cases)
      {"nsa_100", R"({"attention_types": ["Sparse"], "attention_mode": [[1,0,0]]})"},
      {"nsa_010", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,0]]})"},
      {"nsa_001", R"({"attention_types": ["Sparse"], "attention_mode": [[0,0,1]]})"},
      {"nsa_110_dsa", R"({"attention_types": ["Sparse"], "attention_mode": ["DSA"]})"},
      {"nsa_101_swa", R"({"attention_types": ["Sparse"], "attention_mode": ["SWA"]})"},
      {"nsa_011", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,1]]})"},
      {"nsa_111", R"({"attention_types": ["Sparse"], "attention_mode": ["NSA"]})"},
      {"nsa_sigmoid_gate", R"({"attention_types": ["Sparse"], "branch_gate": "sigmoid"})"},
      {"nsa_overlapping_blocks",
       R"({"attention_types": ["Sparse"], "block_size": 8, "block_stride": 4})"},
      {"nsa_select_block_16", R"({"attention_types": ["Sparse"], "select_block_size": 16,
                                  "num_tokens_to_keep": 48, "block_stride": 4})"},
      {"nsa_short_sequence", R"({"attention_types": ["Sparse"], "block_size": 16, "block_stride": 8,
                                 "select_block_size": 16, "num_tokens_to_keep": 32})"},
      {"mixed_full_sparse_moe_mhc", R"({"attention_types": ["FULL", "Sparse"], "n_layer": 4,
                                        "attention_mode": ["NSA", "SWA"], "types": ["moe", "mlp"],
                                        "num_exp": 3, "n_experts": 5, "hc": true, "v_residual": true,
                                        "branch_gate": "sigmoid"})"},
      // Larger: SPEC's overlap example (l = 32, d = 16, l′ = 64) and the default widths
      // (n_embd 256, FULL + Sparse NSA, MLP + MoE, mHC) past the window of 128.
      {"nsa_overlap_32_16_64", R"({"attention_types": ["Sparse"], "n_embd": 64, "block_size": 32,
                                   "block_stride": 16, "select_block_size": 64, "num_tokens_to_keep": 128,
                                   "select_local_blocks": 1, "window_size": 40, "ctx_len": 320})",
       300},
      {"default_widths", R"({"vocab_size": 512, "ctx_len": 320})", 300, true},
      // SPEC §10: Retention and Mamba in hybrid stacks (chunks of 64 positions crossed)
      {"retention_sparse_moe_mhc", R"({"attention_types": ["Retention", "Sparse"],
                                       "types": ["moe"], "num_exp": 3, "n_experts": 5,
                                       "hc": true})"},
      {"mamba_mamba_full_moe_mhc", R"({"attention_types": ["Mamba", "Mamba", "FULL"],
                                       "n_layer": 3, "types": ["moe"], "num_exp": 3,
                                       "n_experts": 5, "hc": true, "mamba_d_conv": 3})"},
      // SPEC §11: GLU FFNs, GLU experts and the routers (expert choice decodes token-choice)
      {"glu_silu_gelu", R"({"types": ["glu", "moe"], "glu_hidden": 40, "moe_expert": "glu",
                            "glu_activation": "gelu"})"},
      {"router_topk", R"({"types": ["moe"], "router": "topk", "n_experts": 4, "num_exp": 2})"},
      {"router_attention", R"({"types": ["moe"], "router": "attention", "n_experts": 4,
                               "num_exp": 1, "hc": true})"},
      {"router_expert_choice", R"({"types": ["moe"], "router": "expert_choice", "n_experts": 4,
                                   "num_exp": 2, "capacity_factor": 1.0})"},
  };
  return cases;
}

inline nn::ModelConfig config_of(const DecodeCase& c) {
  nlohmann::json j = c.defaults ? nlohmann::json::object() : nlohmann::json::parse(kBase);
  j.update(nlohmann::json::parse(c.config));
  return nn::ModelConfig::from_json(j);
}

}  // namespace tinyr2::infer::testing
