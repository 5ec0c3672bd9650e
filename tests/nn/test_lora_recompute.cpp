// Recomputed blocks in LoRA training (nn/lora_recompute.h): the loss, every adapter's
// gradient, the random stream and the MoE routing statistics are bit-identical to the run that
// keeps the activations, and the tape holds fewer nodes. The config has a first FULL layer
// whose value residual (v_first) later FULL layers consume, dense and MoE blocks (block 1, an
// MoE block, is recomputed, so its balance loss's gradient must be seeded in the
// recomputation; block 3, the last, is kept), LoRA dropout and MoE gate noise (both drawn from
// ctx.rng), and hyper-connections. Each router with a balance loss is covered, and a capacity
// that drops tokens.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "core/rng.h"
#include "nn/lora.h"
#include "nn/model.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

struct StepGrads {
  float loss = 0;
  size_t tape_nodes = 0;
  uint64_t rng_offset = 0;
  std::map<std::string, std::vector<float>> grads;
  // Per MoE block: routed counts, then dropped and all assignments, then the rows each expert
  // computed in this step.
  std::vector<std::vector<int64_t>> moe_stats;
};

StepGrads run_step(const Model& m, const IndexTensor& ids, const IndexTensor& targets,
                   bool recompute) {
  for (const NamedTensor& e : m.lora->params().all()) e.tensor.zero_grad();
  std::vector<std::vector<int64_t>> rows_before;
  for (const auto& b : m.blocks)
    if (b->moe) {
      b->moe->reset_counts();
      rows_before.push_back(b->moe->rows_computed());
    }
  Rng rng(77, 0);
  Tape tape;
  ForwardContext ctx(tape);
  ctx.training = true;
  ctx.rng = &rng;
  std::vector<size_t> marks;  // block marks switch recomputation off (nn/lora_recompute.h)
  if (!recompute) ctx.block_marks = &marks;
  const ModelOutput out = m.forward(ctx, ids, &targets);
  StepGrads r;
  r.loss = out.loss.item();
  r.tape_nodes = tape.size();
  tape.backward(out.loss);
  r.rng_offset = rng.offset();
  for (const NamedTensor& e : m.lora->params().all())
    r.grads[e.name] =
        e.tensor.grad().defined() ? e.tensor.grad().to_vector() : std::vector<float>{};
  for (const NamedTensor& e : m.params.all()) EXPECT_FALSE(e.tensor.grad().defined()) << e.name;
  size_t k = 0;
  for (const auto& b : m.blocks)
    if (b->moe) {
      std::vector<int64_t> st = b->moe->routed_counts();
      st.push_back(b->moe->dropped());
      st.push_back(b->moe->assignments());
      const std::vector<int64_t>& rows = b->moe->rows_computed();
      for (size_t e = 0; e < rows.size(); ++e) st.push_back(rows[e] - rows_before[k][e]);
      r.moe_stats.push_back(st);
      ++k;
    }
  return r;
}

// Trains one LoRA step of the small model with `overrides` both ways and compares.
void expect_recompute_bit_identical(const char* overrides) {
  nlohmann::json j = nlohmann::json::parse(
      R"({"attention_types": ["FULL"], "types": ["mlp", "moe"], "n_layer": 4, "hc": true})");
  j.update(nlohmann::json::parse(overrides));
  Model m(testing::small_model_config(j.dump()));
  m.init(41);
  freeze(m.params);
  LoraSpec s;
  s.rank = 3;
  s.dropout = 0.1;
  auto a = std::make_shared<LoraAdapters>(m.params, s);
  a->init(42);
  Rng brng(43);
  for (const LoraAdapter& ad : a->all()) {  // B = 0 at init would give A no gradient
    Tensor b = ad.B;
    brng.normal(b.data(), b.numel(), 0.f, 0.2f);
  }
  m.lora = a;
  const int64_t B = 2, T = 16;
  std::vector<int32_t> in, tg;
  Rng idr(44);
  for (int64_t i = 0; i < B * T; ++i) {
    in.push_back(static_cast<int32_t>(idr.next_below(static_cast<uint64_t>(m.cfg.vocab_size))));
    tg.push_back(static_cast<int32_t>(idr.next_below(static_cast<uint64_t>(m.cfg.vocab_size))));
  }
  const IndexTensor ids({B, T}, in), targets({B, T}, tg);
  const StepGrads kept = run_step(m, ids, targets, false),
                  recomputed = run_step(m, ids, targets, true);
  EXPECT_EQ(std::memcmp(&kept.loss, &recomputed.loss, sizeof(float)), 0)
      << kept.loss << " vs " << recomputed.loss;
  EXPECT_EQ(kept.rng_offset, recomputed.rng_offset);
  // Blocks 0-2 (dense, MoE, dense) are one node each; block 3 keeps its nodes.
  EXPECT_LT(recomputed.tape_nodes, kept.tape_nodes);
  // The routing statistics are counted once, as without recomputation (bias updates and
  // moe_dropped read them).
  EXPECT_EQ(kept.moe_stats, recomputed.moe_stats);
  ASSERT_EQ(kept.grads.size(), recomputed.grads.size());
  int nonzero = 0;
  for (const auto& [name, g] : kept.grads) {
    const std::vector<float>& h = recomputed.grads.at(name);
    ASSERT_EQ(g.size(), h.size()) << name;
    EXPECT_EQ(std::memcmp(g.data(), h.data(), g.size() * sizeof(float)), 0) << name;
    for (float v : g) nonzero += v != 0.f;
  }
  EXPECT_GT(nonzero, 0);
  // The recomputed blocks' adapters (0: produces v_first, 1: MoE, 2: consumes v_first) got
  // gradients.
  for (const char* mod :
       {"blocks.0.attn.", "blocks.1.attn.", "blocks.1.ffn.", "blocks.2.attn.", "blocks.2.ffn."}) {
    bool any = false;
    for (const auto& [name, g] : recomputed.grads)
      if (name.find(mod) != std::string::npos)
        for (float v : g) any = any || v != 0.f;
    EXPECT_TRUE(any) << mod;
  }
}

}  // namespace

// DeepSeek routing: the balance loss (a large coefficient, so its gradient counts) flows
// back into the recomputed MoE block's hidden states.
TEST(LoraRecompute, DeepseekMoeBlocksGiveBitIdenticalLossGradientsAndCounts) {
  expect_recompute_bit_identical(R"({"moe_balance_coef": 0.5})");
}

// Switch's L_aux and a capacity that drops assignments (position-major admission).
TEST(LoraRecompute, TopkWithDroppingCapacityGivesBitIdenticalResults) {
  expect_recompute_bit_identical(
      R"({"router": "topk", "moe_aux_coef": 0.5, "capacity_factor": 0.5})");
}

TEST(LoraRecompute, AttentionRouterGivesBitIdenticalResults) {
  expect_recompute_bit_identical(R"({"router": "attention", "moe_aux_coef": 0.5})");
}

TEST(LoraRecompute, ExpertChoiceGivesBitIdenticalResults) {
  expect_recompute_bit_identical(R"({"router": "expert_choice", "capacity_factor": 1.0})");
}

}  // namespace tinyr2::nn
