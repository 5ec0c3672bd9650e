// Which optimizer takes which parameter (SPEC §6), checked on the actual partition of models
// holding every module type, and checked again through the optimizers' effect; and the
// schedule the trainer applies to both optimizers.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "core/rng.h"
#include "nn/model.h"
#include "optim/schedule.h"
#include "train/trainer.h"

namespace tinyr2::train {

namespace {

// FULL (with value residual) + Sparse with all three branches, MLP + MoE, and either mHC or
// dynamic HC: every module type there is.
nn::ModelConfig every_module(bool mhc) {
  return nn::ModelConfig::from_json(nlohmann::json::parse(fmt::format(R"({{
    "vocab_size": 64, "ctx_len": 32, "n_embd": 16, "n_head": 2, "n_layer": 4,
    "attention_types": ["FULL", "Sparse"], "attention_mode": ["NSA"], "types": ["mlp", "moe"],
    "n_experts": 4, "num_exp": 3, "moe_hidden": 12, "q_lora_rank": 8, "kv_lora_rank": 4,
    "qk_nope_head_dim": 4, "qk_rope_head_dim": 4, "v_head_dim": 4, "block_size": 4,
    "block_stride": 4, "compress_hidden": 8, "select_block_size": 4, "num_tokens_to_keep": 12,
    "select_init_blocks": 1, "select_local_blocks": 1, "window_size": 6, "v_residual": true,
    "hc": true, "hc_num_streams": 2, "mhc": {}, "gate_noise": 0.0}})",
                                                                      mhc ? "true" : "false")));
}

bool has(const optim::NamedParams& ps, const std::string& name) {
  for (const auto& [n, p] : ps)
    if (n == name) return true;
  return false;
}

// Batches of random tokens.
std::vector<data::Batch> random_batches(int n, int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<data::Batch> out;
  for (int i = 0; i < n; ++i) {
    data::Batch b{B, T, {}, {}};
    for (int64_t r = 0; r < B; ++r) {
      std::vector<int32_t> w;
      for (int64_t t = 0; t <= T; ++t) w.push_back(static_cast<int32_t>(rng.next_below(vocab)));
      b.ids.insert(b.ids.end(), w.begin(), w.end() - 1);
      b.targets.insert(b.targets.end(), w.begin() + 1, w.end());
    }
    out.push_back(b);
  }
  return out;
}

}  // namespace

TEST(ParamGroups, MuonTakesOnlyBlockMatricesOutsideCompressorAndHC) {
  for (bool mhc : {true, false}) {
    SCOPED_TRACE(mhc ? "mHC" : "dynamic HC");
    nn::Model model(every_module(mhc));
    const ParamGroups g = partition_parameters(model);

    // Disjoint, and together every parameter; no buffer anywhere.
    std::set<std::string> muon, adamw, params;
    for (const auto& [n, p] : g.muon) muon.insert(n);
    for (const auto& [n, p] : g.adamw) adamw.insert(n);
    for (const auto& e : model.params.all()) {
      if (e.buffer) {
        EXPECT_FALSE(muon.count(e.name) || adamw.count(e.name)) << e.name << " is a buffer";
        continue;
      }
      params.insert(e.name);
      EXPECT_EQ(muon.count(e.name) + adamw.count(e.name), 1u) << e.name;
    }
    EXPECT_EQ(muon.size() + adamw.size(), params.size());

    // Muon never receives embeddings, the head, 1-D/scalar tensors, the compressor, the
    // intra-block positions or hyper-connection tensors.
    for (const auto& [n, p] : g.muon) {
      EXPECT_GE(p.dim(), 2) << n;
      EXPECT_EQ(n.rfind("blocks.", 0), 0u) << n;
      for (const char* banned :
           {"block_compressor", "intra_block_pos_encoding", "hc_attn", "hc_ffn", "token_embedding",
            "position_embedding", "expert_bias", "lamb"})
        EXPECT_EQ(n.find(banned), std::string::npos) << n;
    }
    // Every ≥2-D blocks.* matrix outside those goes to Muon.
    for (const auto& [n, p] : g.adamw) {
      const bool excluded = n.find("block_compressor") != std::string::npos ||
                            n.find("intra_block_pos_encoding") != std::string::npos ||
                            n.find("hc_attn") != std::string::npos ||
                            n.find("hc_ffn") != std::string::npos;
      if (n.rfind("blocks.", 0) == 0 && p.dim() >= 2) {
        EXPECT_TRUE(excluded) << n << " should be Muon's";
      }
    }

    // Spot checks by name, one per module type.
    for (const char* n :
         {"blocks.0.attn.c_attn.weight", "blocks.0.attn.c_proj.weight", "blocks.0.ffn.c_fc.weight",
          "blocks.1.attn.compress_q_linear.weight", "blocks.1.attn.selection_k.weight",
          "blocks.1.attn.window_v.weight", "blocks.1.attn.k_rope_linear.weight",
          "blocks.1.attn.branch_gate.weight", "blocks.1.attn.proj.weight",
          "blocks.1.ffn.gate.weight", "blocks.1.ffn.experts.0.c_fc.weight",
          "blocks.3.ffn.experts.3.c_proj.weight"})
      EXPECT_TRUE(has(g.muon, n)) << n;
    for (const char* n :
         {"token_embedding_table.weight", "position_embedding_table.weight", "rm_f.weight",
          "blocks.0.rm1.weight", "blocks.2.attn.lamb1", "blocks.1.attn.q_norm.weight",
          "blocks.1.attn.block_compressor.0.weight", "blocks.1.attn.block_compressor.2.weight",
          "blocks.1.attn.intra_block_pos_encoding"})
      EXPECT_TRUE(has(g.adamw, n)) << n;
    const std::vector<std::string> hc =
        mhc ? std::vector<std::string>{"blocks.0.hc_attn.H_res_logits",
                                       "blocks.0.hc_ffn.H_pre_logits",
                                       "blocks.3.hc_ffn.H_post_logits"}
            : std::vector<std::string>{
                  "blocks.0.hc_attn.static_alpha", "blocks.0.hc_attn.dynamic_alpha_fn",
                  "blocks.1.hc_ffn.dynamic_beta_scale", "blocks.1.hc_ffn.norm.gamma"};
    for (const auto& n : hc) {
      ASSERT_NE(model.params.find(n), nullptr) << n;
      EXPECT_TRUE(has(g.adamw, n)) << n;
    }
  }
}

// Through the optimizers: with muon_lr = 0 only AdamW's parameters move, with lr = 0 only
// Muon's (and weight decay off, so a zero rate means no change at all).
TEST(ParamGroups, EachOptimizerMovesOnlyItsOwnParameters) {
  for (bool muon_only : {false, true}) {
    nn::Model model(every_module(true));
    model.init(5);
    TrainConfig tc;
    tc.batch_size = 2;
    tc.max_iters = 2;
    tc.warmup_iters = 0;
    tc.weight_decay = 0;
    tc.lr = muon_only ? 0.0 : 1e-2;
    tc.min_lr = tc.lr;
    tc.muon_lr = muon_only ? 0.02 : 0.0;
    BatchListSource src(random_batches(2, 2, 16, 64, 3));
    Trainer trainer(model, tc, src);
    std::map<std::string, std::vector<float>> before;
    for (const auto& e : model.params.all()) before[e.name] = e.tensor.to_vector();
    const StepResult r = trainer.step();
    ASSERT_FALSE(r.skipped);
    const ParamGroups& g = trainer.groups();
    for (const auto& e : model.params.all()) {
      if (e.buffer) continue;
      const bool changed = e.tensor.to_vector() != before[e.name];
      const bool is_muon = has(g.muon, e.name);
      if (is_muon != muon_only) {
        EXPECT_FALSE(changed) << e.name << " moved although its optimizer's rate is 0";
      }
    }
    // Some of the optimised group did move (Muon moves every matrix it has a gradient for).
    int moved = 0;
    for (const auto& [n, p] : muon_only ? g.muon : g.adamw) moved += p.to_vector() != before[n];
    EXPECT_GT(moved, 0);
  }
}

// Both rates follow warmup + cosine: AdamW gets lr_at(e), Muon muon_lr · lr_at(e) / lr.
TEST(ParamGroups, ScheduleDrivesBothOptimizers) {
  nn::ModelConfig cfg = every_module(true);
  nn::Model model(cfg);
  model.init(6);
  TrainConfig tc;
  tc.batch_size = 1;
  tc.max_iters = 8;
  tc.warmup_iters = 3;
  tc.lr = 2e-3;
  tc.min_lr = 2e-4;
  tc.muon_lr = 0.05;
  BatchListSource src(random_batches(8, 1, 8, 64, 4));
  Trainer trainer(model, tc, src);
  for (int e = 0; e < 8; ++e) {
    const StepResult r = trainer.step();
    EXPECT_EQ(r.step, e + 1);
    const double expected = e < 3
                                ? 2e-3 * (e + 1) / 3
                                : 2e-4 + 0.5 * (1 + std::cos(M_PI * (e - 3) / 5.0)) * (2e-3 - 2e-4);
    EXPECT_NEAR(r.lr, expected, 1e-15) << e;
    EXPECT_NEAR(r.muon_lr, 0.05 * expected / 2e-3, 1e-15) << e;
  }
  EXPECT_NEAR(optim::lr_at(3, 2e-3, 2e-4, 3, 8), 2e-3,
              1e-18);  // first step after warmup: lr itself
}

// The expert bias moves after each step by the routing counts (it is a buffer: no optimizer).
TEST(ParamGroups, ExpertBiasMovesOncePerStep) {
  nn::Model model(every_module(true));
  model.init(7);
  TrainConfig tc;
  tc.batch_size = 2;
  tc.grad_accum = 2;
  tc.max_iters = 3;
  BatchListSource src(random_batches(6, 2, 16, 64, 5));
  Trainer trainer(model, tc, src);
  const auto moe = model.moe_layers();
  ASSERT_EQ(moe.size(), 2u);
  for (int s = 0; s < 3; ++s) {
    trainer.step();
    // Each update adds ±rate or 0 to each entry: after s+1 steps |bias| ≤ (s+1)·rate, on the grid.
    for (const auto* m : moe) {
      float sum = 0;
      for (float b : m->expert_bias.to_vector()) {
        EXPECT_LE(std::abs(b), (s + 1) * 1e-3f + 1e-6f);
        const float steps = b / 1e-3f;
        EXPECT_NEAR(steps, std::round(steps), 1e-3);
        sum += std::abs(b);
      }
      EXPECT_GT(sum, 0.f);  // routing is never perfectly even on random tokens
      EXPECT_EQ(m->routed_counts(), std::vector<int64_t>(3, 0));  // reset after the update
    }
  }
}

}  // namespace tinyr2::train
