// Mamba's dynamics tensors (A_log, D, conv1d.*, dt_proj.*) go to AdamW without weight decay,
// never Muon (SPEC §10); the other Retention / Mamba matrices are Muon's (SPEC §6).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "nn/model.h"
#include "optim/adamw.h"
#include "support/small_model.h"
#include "train/trainer.h"

namespace tinyr2::train {

TEST(SsmParamGroups, MambaDynamicsGoToAdamWWithoutDecayAndNeverMuon) {
  nn::Model model(
      tinyr2::testing::small_model_config(R"({"attention_types": ["Mamba", "Retention"]})"));
  const ParamGroups g = partition_parameters(model);
  std::set<std::string> muon, adamw;
  for (const auto& [n, p] : g.muon) muon.insert(n);
  for (const auto& [n, p] : g.adamw) adamw.insert(n);
  for (const char* n :
       {"A_log", "D", "conv1d.weight", "conv1d.bias", "dt_proj.weight", "dt_proj.bias"}) {
    const std::string name = std::string("blocks.0.attn.") + n;
    ASSERT_NE(model.params.find(name), nullptr) << name;
    EXPECT_TRUE(adamw.count(name)) << name;
    EXPECT_FALSE(muon.count(name)) << name;
    EXPECT_FALSE(optim::adamw_decays(name, model.params.find(name)->tensor)) << name;
  }
  for (const char* n : {"blocks.0.attn.in_proj.weight", "blocks.0.attn.x_proj.weight",
                        "blocks.0.attn.out_proj.weight", "blocks.1.attn.c_attn.weight",
                        "blocks.1.attn.g_proj.weight", "blocks.1.attn.c_proj.weight"})
    EXPECT_TRUE(muon.count(n)) << n;
  EXPECT_TRUE(adamw.count("blocks.1.attn.head_norm.weight"));
  EXPECT_TRUE(optim::adamw_decays("token_embedding_table.weight",
                                  model.params.find("token_embedding_table.weight")->tensor));

  // Through the optimizer: zero gradients and weight decay 0.5 leave the dynamics unchanged
  // and shrink a decayed matrix.
  optim::NamedParams ps;
  for (const char* n : {"blocks.0.attn.A_log", "blocks.0.attn.conv1d.weight",
                        "blocks.0.attn.dt_proj.weight", "token_embedding_table.weight"}) {
    Tensor t = model.params.find(n)->tensor;
    t.fill(1.f);
    t.grad_accumulator();  // zeros
    ps.emplace_back(n, t);
  }
  optim::AdamW opt(ps, {0.9, 0.95, 1e-8, 0.5});
  opt.step(0.1);
  for (size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(ps[i].second.data()[0], 1.f) << ps[i].first;
  EXPECT_FLOAT_EQ(ps[3].second.data()[0], 0.95f);
}

}  // namespace tinyr2::train
