// A LoRA training step (SPEC §12) in process: the frozen base — every parameter and buffer
// (expert_bias too) — stays bit-identical through training, gets no gradient and no
// optimizer state; the adapters alone are in AdamW and move.
#include <gtest/gtest.h>

#include <cstring>

#include "core/rng.h"
#include "nn/lora.h"
#include "nn/model.h"
#include "support/small_model.h"
#include "train/trainer.h"

namespace tinyr2::nn {

TEST(LoraTraining, BaseStaysBitIdenticalWithNoGradientOrOptimizerState) {
  Model m(testing::small_model_config(R"({"attention_types": ["FULL", "Sparse"],
      "types": ["mlp", "moe"], "hc": true, "dropout": 0.1, "gate_noise": 0.05})"));
  m.init(41);
  std::map<std::string, Tensor> before;
  for (const auto& [name, t] : m.params.state_dict()) before[name] = t.clone();
  freeze(m.params);
  LoraSpec s;
  s.rank = 2;
  s.dropout = 0.1;
  auto a = std::make_shared<LoraAdapters>(m.params, s);
  a->init(42);
  m.lora = a;

  std::vector<data::Batch> batches;
  Rng rng(43);
  for (int i = 0; i < 3; ++i) {
    data::Batch b{2, 16, {}, {}};
    for (int k = 0; k < 32; ++k) {
      b.ids.push_back(static_cast<int32_t>(rng.next_below(101)));
      b.targets.push_back(static_cast<int32_t>(rng.next_below(101)));
    }
    batches.push_back(b);
  }
  train::BatchListSource source(batches);
  train::TrainConfig tc;
  tc.lr = 1e-2;
  tc.warmup_iters = 0;
  train::Trainer trainer(m, tc, source);
  EXPECT_TRUE(trainer.groups().muon.empty());
  EXPECT_EQ(trainer.groups().adamw.size(), 2 * a->all().size());
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(trainer.step().skipped);

  for (const auto& [name, t] : m.params.state_dict()) {
    const Tensor& b = before.at(name);
    EXPECT_EQ(std::memcmp(t.data(), b.data(), sizeof(float) * static_cast<size_t>(t.numel())), 0)
        << name << " changed";
    EXPECT_FALSE(t.grad().defined()) << name << " holds a gradient";
  }
  for (const auto& [key, v] : trainer.optimizer_state())
    EXPECT_NE(key.find(".lora_"), std::string::npos) << "optimizer state for " << key;
  float bmax = 0;
  for (const LoraAdapter& ad : a->all())
    for (float v : ad.B.to_vector()) bmax = std::max(bmax, std::abs(v));
  EXPECT_GT(bmax, 0.f);
}

}  // namespace tinyr2::nn
