// Config parsing (SPEC §1): defaults, cycling, and one clear error per bad value.
#include <gtest/gtest.h>

#include "core/error.h"
#include "nn/config.h"

namespace tinyr2::nn {

namespace {
std::string error_of(const std::string& json) {
  try {
    ModelConfig::from_json(nlohmann::json::parse(json));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsAndCycling) {
  const ModelConfig c = ModelConfig::from_json(nlohmann::json::parse(R"({"n_layer": 5})"));
  EXPECT_EQ(c.n_embd, 256);
  EXPECT_EQ(c.moe_hidden_size(), 1024);
  EXPECT_EQ(c.compress_hidden_size(), 256);
  EXPECT_EQ(c.attention_type(0), AttentionType::Full);
  EXPECT_EQ(c.attention_type(3), AttentionType::Sparse);
  EXPECT_EQ(c.ffn_type(4), FfnType::Mlp);
  EXPECT_EQ(c.branches(1), (BranchSet{true, true, true}));
  const ModelConfig d = ModelConfig::from_json(
      nlohmann::json::parse(R"({"attention_mode": ["SWA", [0,1,0], "DSA"], "hc": false})"));
  EXPECT_EQ(d.branches(0), (BranchSet{true, false, true}));
  EXPECT_EQ(d.branches(1), (BranchSet{false, true, false}));
  EXPECT_EQ(d.branches(5), (BranchSet{true, true, false}));
  EXPECT_EQ(d.streams(), 1);
  // A round trip through to_json gives the same config.
  const ModelConfig e = ModelConfig::from_json(d.to_json());
  EXPECT_EQ(e.to_json().dump(), d.to_json().dump());
}

TEST(Config, ErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {R"({"n_embd": 250, "n_head": 4})", "\"n_head\" = 4 must divide n_embd = 250"},
      {R"({"unknown_key": 1})", "unknown key \"unknown_key\""},
      {R"({"n_embd": "256"})", "\"n_embd\" must be an integer"},
      {R"({"n_embd": 2.5})", "\"n_embd\" must be an integer"},
      {R"({"n_layer": 0})", "\"n_layer\" = 0 is out of range"},
      {R"({"num_exp": 9})", "\"num_exp\" = 9 is out of range"},
      {R"({"num_exp": 1})", "\"num_exp\" = 1 is out of range"},
      {R"({"hc_num_fracs": 2})", "\"hc_num_fracs\" = 2: only 1 is supported"},
      {R"({"hc": "false"})", "\"hc\" must be true or false"},
      {R"({"attention_types": ["FULL", "Dense"]})", "\"attention_types\" entry \"Dense\""},
      {R"({"attention_mode": [[0,0,0]]})", "\"attention_mode\" entry [0,0,0]"},
      {R"({"types": []})", "\"types\" must be a non-empty list"},
      {R"({"branch_gate": "tanh"})", "\"branch_gate\" must be one of"},
      {R"({"block_stride": 5})", "\"block_stride\" = 5 must divide block_size = 16"},
      {R"({"num_tokens_to_keep": 100})", "\"num_tokens_to_keep\" = 100 must be a multiple"},
      {R"({"select_init_blocks": 3})", "select_init_blocks + select_local_blocks = 5"},
      {R"({"qk_rope_head_dim": 7})", "\"qk_rope_head_dim\" = 7 must be even"},
      {R"({"sinkhorn_tau": 0})", "\"sinkhorn_tau\" = 0 is out of range"},
      {R"({"ns_coeffs": [1, 2]})", "\"ns_coeffs\" must be a list of 3 numbers"},
      {R"([1, 2])", "expected a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string m = error_of(c.json);
    EXPECT_NE(m.find(c.needle), std::string::npos) << c.json << " gave: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

}  // namespace tinyr2::nn
