// nn::estimate_memory is a lower bound: its parameter count never exceeds Model::num_params()
// (the model's own count, itself checked against PyTorch in test_param_counts.cpp), and stays
// within 5x of it — over FULL/Sparse, MLP/MoE and hyper-connection variants.
#include <gtest/gtest.h>

#include <string>

#include "nn/memory_estimate.h"
#include "nn/model.h"
#include "support/small_model.h"

namespace tinyr2::nn {

TEST(MemoryEstimate, IsALowerBoundOfTheParameterCount) {
  for (const char* extra : {R"({})", R"({"attention_types": ["Sparse"]})", R"({"types": ["moe"]})",
                            R"({"types": ["mlp", "moe"], "n_layer": 3, "hc": true})",
                            R"({"n_embd": 64, "n_head": 4, "vocab_size": 1000})",
                            R"({"types": ["glu", "moe"], "moe_expert": "glu"})"}) {
    nlohmann::json j = nlohmann::json::parse(tinyr2::testing::kSmallModelBase);
    j.update(nlohmann::json::parse(extra));
    const ModelConfig cfg = ModelConfig::from_json(j);
    const Model model(cfg);
    const MemoryEstimate e = estimate_memory(cfg, {});
    const double actual = static_cast<double>(model.num_params());
    EXPECT_LE(e.params, actual) << extra;
    EXPECT_GE(e.params, 0.2 * actual) << extra;  // within 5x at these toy widths
    EXPECT_EQ(e.weights, 4 * e.params);
    const MemoryEstimate t = estimate_memory(cfg, {8, true});
    EXPECT_EQ(t.training, 3 * t.weights);
    EXPECT_GT(t.activations, 0);
  }
}

// The feed-forward matrices are counted exactly: swapping an MLP for a GLU (c_gate, c_up,
// c_proj) or the MoE's MLP experts for GLU experts changes the estimate by exactly as many
// parameters as it changes the model the config builds.
TEST(MemoryEstimate, CountsEveryGluMatrix) {
  const auto cfg_of = [](const char* extra) {
    nlohmann::json j = nlohmann::json::parse(tinyr2::testing::kSmallModelBase);
    j.update(nlohmann::json::parse(extra));
    return ModelConfig::from_json(j);
  };
  const std::pair<const char*, const char*> pairs[] = {
      {R"({"types": ["mlp"]})", R"({"types": ["glu"], "glu_hidden": 40})"},
      {R"({"types": ["mlp"]})", R"({"types": ["glu"]})"},  // glu_hidden -1: 4·n_embd
      {R"({"types": ["moe"]})", R"({"types": ["moe"], "moe_expert": "glu"})"},
      {R"({"types": ["mlp", "moe"], "hc": true})",
       R"({"types": ["glu", "moe"], "moe_expert": "glu", "hc": true})"}};
  for (const auto& [a, b] : pairs) {
    const ModelConfig ca = cfg_of(a), cb = cfg_of(b);
    const double actual = static_cast<double>(Model(cb).num_params() - Model(ca).num_params());
    EXPECT_NE(actual, 0) << b;
    EXPECT_EQ(estimate_memory(cb, {}).params - estimate_memory(ca, {}).params, actual) << b;
    EXPECT_LE(estimate_memory(cb, {}).params, static_cast<double>(Model(cb).num_params())) << b;
  }
}

TEST(MemoryEstimate, RefusesWhatCannotFitWithoutOverflow) {
  ModelConfig cfg;
  cfg.vocab_size = cfg.n_embd = int64_t{1} << 31;  // V*C = 2^62 floats: int64 would overflow
  cfg.n_head = 1;
  try {
    check_memory(cfg, "huge.json", {});
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("huge.json: this model needs at least ", 0), 0u) << msg;
    EXPECT_NE(msg.find("of memory available"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(check_memory(ModelConfig{}, "default", {8, true}));  // the default fits
}

}  // namespace tinyr2::nn
