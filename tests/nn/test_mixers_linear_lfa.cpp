// The "LFA" sequence mixer (SPEC §10, nn/lfa_attention.h): parameter names and count (closed
// form); Muon never receives the conv tensors.
// Elsewhere: parity with the PyTorch reference in tests/nn/test_model_parity.cpp (Lfa/…);
// cached decode = forward with learned and RoPE positions and bytes() = k, v rows plus the
// two convolution rows in tests/nn/test_sequence_mixer.cpp (Types/Mixer.*/lfa, lfa_rope);
// model causality and cached decoding in tests/nn/test_model_properties.cpp
// (Configs/ModelCausality.*).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/lfa_attention.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"
#include "support/small_model.h"
#include "train/trainer.h"

namespace tinyr2::nn {

namespace {

using testing::small_model_config;

}  // namespace

TEST(LfaModel, ParameterNamesAndCount) {
  const ModelConfig cfg = small_model_config(R"({"attention_types": ["LFA"]})");
  Parameters p;
  const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
  const int64_t C = cfg.n_embd, h = C / 2;
  // conv1 (C/2,C,2)+C/2, conv2 (C,C/2,2)+C, norm C, c_qk 2C·C, c_v C·C, c_proj C·C.
  EXPECT_EQ(mixer->num_params(), h * C * 2 + h + C * h * 2 + C + C + 4 * C * C);
  std::vector<std::string> names;
  for (const NamedTensor& e : mixer->named_parameters()) names.push_back(e.name);
  const std::string a = "blocks.0.attn.";
  EXPECT_EQ(names, (std::vector<std::string>{a + "lf.conv1.weight", a + "lf.conv1.bias",
                                             a + "lf.conv2.weight", a + "lf.conv2.bias",
                                             a + "lf.norm.weight", a + "c_qk.weight",
                                             a + "c_v.weight", a + "c_proj.weight"}));
}

TEST(LfaModel, MuonNeverReceivesConvTensors) {
  const Model m(small_model_config(R"({"attention_types": ["LFA", "Linear"], "n_layer": 2})"));
  const train::ParamGroups g = train::partition_parameters(m);
  auto has = [](const auto& group, const std::string& n) {
    for (const auto& e : group)
      if (e.first == n) return true;
    return false;
  };
  for (const auto& e : g.muon) EXPECT_EQ(e.first.find(".lf.conv"), std::string::npos) << e.first;
  for (const char* n : {"blocks.0.attn.lf.conv1.weight", "blocks.0.attn.lf.conv2.weight",
                        "blocks.0.attn.lf.conv1.bias", "blocks.0.attn.lf.norm.weight"})
    EXPECT_TRUE(has(g.adamw, n)) << n;
  for (const char* n : {"blocks.0.attn.c_qk.weight", "blocks.0.attn.c_v.weight",
                        "blocks.0.attn.c_proj.weight", "blocks.1.attn.c_attn.weight"})
    EXPECT_TRUE(has(g.muon, n)) << n;
}

}  // namespace tinyr2::nn
