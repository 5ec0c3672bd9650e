// The model configuration (SPEC §1): every key, its default, and strict validation.
//
// Parsing is strict: an unknown key, a value of the wrong JSON type (strings are not
// booleans), or a value out of range throws tinyr2::Error naming the key and the range.
// Per-layer lists cycle over layers: layer i uses list[i % len].
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/params.h"

namespace tinyr2::nn {

// The sequence mixer in a block's attention slot; names, layers and constructors are in the
// table of nn/mixer_factory.cpp (one line per type).
enum class AttentionType { Full, Sparse, Retention, Mamba, Linear, Lfa };
enum class FfnType { Mlp, Moe, Glu };
// SPEC §11: the MoE routing ("deepseek" = §2.4) and the expert / GLU kinds.
enum class Router { Deepseek, TopK, Attention, ExpertChoice };
enum class MoeExpert { Mlp, Glu };
using GluActivation = kernels::GluActivation;
enum class BranchGate { Softmax, Sigmoid };
enum class HResProj { Sinkhorn, Orthostochastic };
// Where positions come from (SPEC §10 pos_embedding): the learned table E_pos (§2) or RoPE
// in FULL and LFA layers (no table); the NTK base is nn::rope_base (nn/rope_positions.h).
enum class PosEmbedding { Learned, Rope };

// Which NSA branches a Sparse layer runs: compression, selection, sliding window.
using BranchSet = std::array<bool, 3>;

struct ModelConfig {
  int64_t vocab_size = 50257;
  int64_t ctx_len = 256;
  int64_t n_embd = 256, n_head = 4, n_layer = 4;
  std::vector<AttentionType> attention_types = {AttentionType::Full, AttentionType::Sparse};
  std::vector<BranchSet> attention_mode = {{true, true, true}};  // NSA
  std::vector<nlohmann::json> attention_mode_json = {"NSA"};     // as written, for config.json
  std::vector<FfnType> types = {FfnType::Mlp, FfnType::Moe};
  int64_t n_experts = 8, num_exp = 2;
  int64_t moe_hidden = -1;  // -1: 4 * n_embd
  double gate_noise = 0.02, expert_bias_rate = 1e-3, moe_balance_coef = 0.01;
  // SPEC §11: GLU FFN, MoE expert kind, router, Switch aux loss, capacity (0 = unlimited).
  int64_t glu_hidden = -1;  // -1: 4 * n_embd
  GluActivation glu_activation = GluActivation::Silu;
  MoeExpert moe_expert = MoeExpert::Mlp;
  Router router = Router::Deepseek;
  double moe_aux_coef = 0.01, capacity_factor = 0.0;
  int64_t q_lora_rank = 96, kv_lora_rank = 32;
  int64_t qk_nope_head_dim = 32, qk_rope_head_dim = 64, v_head_dim = 32;
  int64_t block_size = 16, block_stride = 16;
  int64_t compress_hidden = -1;  // -1: n_embd
  int64_t select_block_size = 32, num_tokens_to_keep = 128;
  int64_t select_init_blocks = 1, select_local_blocks = 2;
  int64_t window_size = 128;
  BranchGate branch_gate = BranchGate::Softmax;
  double rope_theta = 10000.0;
  bool v_residual = false;
  bool hc = true;
  int64_t hc_num_streams = 4, hc_num_fracs = 1;
  bool mhc = true;
  HResProj mhc_h_res_proj = HResProj::Sinkhorn;
  int64_t sinkhorn_iters = 10;
  double sinkhorn_tau = 0.05;
  int64_t ns_steps = 5;
  double ns_eps = 1e-7;
  std::array<double, 3> ns_coeffs = {3.0, -3.2, 1.2};
  double dropout = 0.0, norm_eps = 1e-6, init_std = 0.02;
  // Mamba layers (SPEC §10): d_in = mamba_expand·n_embd, N, K, R (-1: ceil(n_embd/16)).
  int64_t mamba_expand = 2, mamba_d_state = 16, mamba_d_conv = 4, mamba_dt_rank = -1;
  PosEmbedding pos_embedding = PosEmbedding::Learned;  // SPEC §10
  double rope_scaling = 1.0;                           // SPEC §10: s ≥ 1, NTK base

  // ---- derived, per layer ----
  AttentionType attention_type(int64_t layer) const {
    return attention_types[layer % attention_types.size()];
  }
  BranchSet branches(int64_t layer) const { return attention_mode[layer % attention_mode.size()]; }
  FfnType ffn_type(int64_t layer) const { return types[layer % types.size()]; }
  int64_t head_dim() const { return n_embd / n_head; }
  int64_t moe_hidden_size() const { return moe_hidden > 0 ? moe_hidden : 4 * n_embd; }
  int64_t glu_hidden_size() const { return glu_hidden > 0 ? glu_hidden : 4 * n_embd; }
  int64_t compress_hidden_size() const { return compress_hidden > 0 ? compress_hidden : n_embd; }
  int64_t mamba_dt_rank_size() const {
    return mamba_dt_rank > 0 ? mamba_dt_rank : (n_embd + 15) / 16;
  }
  int64_t num_select_blocks() const { return num_tokens_to_keep / select_block_size; }
  // Hyper-connection streams in use (1 = plain residual).
  int64_t streams() const { return hc ? hc_num_streams : 1; }

  // Parses and validates a JSON object (the "train" key, if present, is left to the trainer).
  static ModelConfig from_json(const nlohmann::json& j);
  static ModelConfig from_file(const std::string& path);
  nlohmann::json to_json() const;  // every key, defaults resolved
  void validate() const;
};

// SPEC §11 names of the routers and GLU activations (the config's strings); the
// *_from_name functions throw naming the key for an unknown name.
const char* router_name(Router r);
Router router_from_name(const std::string& s);
const char* glu_activation_name(GluActivation a);
GluActivation glu_activation_from_name(const std::string& s);

}  // namespace tinyr2::nn
