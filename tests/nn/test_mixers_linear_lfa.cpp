// The "LFA" sequence mixer (SPEC §10, nn/lfa_attention.h):
//   - cached decode (prefill, one token at a time, a cleared state reused) equals the full
//     forward at every position, with learned and RoPE positions; bytes() = k, v rows plus
//     the two convolution rows;
//   - the localized filter is causal and starts from zeros: with q/k weights that see only
//     f, changing x at t ≥ p leaves outputs < p unchanged (model-level causality);
//   - parameter names and count (closed form); Muon never receives the conv tensors.
// Parity with the PyTorch reference: tests/nn/test_model_parity.cpp (Lfa/…).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model_checks.h"
#include "nn/lfa_attention.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"
#include "support/op_case.h"
#include "support/small_model.h"
#include "train/trainer.h"

namespace tinyr2::nn {

namespace {

ModelConfig config_of(const std::string& extra) {
  nlohmann::json j = nlohmann::json::parse(tinyr2::testing::kSmallModelBase);
  j.update(nlohmann::json::parse(extra));
  return ModelConfig::from_json(j);
}

Tensor random_tensor(const Shape& s, uint64_t seed) {
  Tensor x = Tensor::empty(s);
  Rng(seed).normal(x.data(), x.numel(), 0.f, 1.f);
  return x;
}

Tensor cached_forward(const SequenceMixer& m, MixerState& state, const Tensor& x, int64_t first,
                      std::vector<int64_t>* bytes_after = nullptr) {
  const int64_t T = x.size(1), C = x.size(2);
  Tensor out = Tensor::empty({1, T, C});
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? first : 1;
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    const Tensor y =
        m.forward_cached(ctx, x.view({T, C}).rows(pos, pos + n).view({1, n, C}), state, pos);
    std::copy(y.data(), y.data() + n * C, out.data() + pos * C);
    pos += n;
    if (bytes_after) bytes_after->push_back(state.bytes());
  }
  return out;
}

}  // namespace

class Lfa : public ::testing::TestWithParam<std::string> {};

TEST_P(Lfa, CachedDecodeEqualsForward) {
  const ModelConfig cfg = config_of(GetParam());
  Parameters p;
  const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
  EXPECT_STREQ(mixer->type_name(), "LFA");
  p.init_all(3);
  const int64_t T = 50, C = cfg.n_embd;
  const Tensor x = random_tensor({1, T, C}, 5);
  Tensor expected;
  {
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    expected = mixer->forward(ctx, x);
  }
  const auto state = mixer->new_state();
  EXPECT_EQ(state->bytes(), 0);
  std::vector<int64_t> bytes;
  EXPECT_LE(testing::relative_error(cached_forward(*mixer, *state, x, 1, &bytes), expected), 1e-4);
  for (size_t i = 0; i < bytes.size(); ++i)  // k, v rows + last x row + last conv1 row
    EXPECT_EQ(bytes[i], 4 * (2 * C * static_cast<int64_t>(i + 1) + C + C / 2));
  state->clear();
  EXPECT_LE(testing::relative_error(cached_forward(*mixer, *state, x, 17), expected), 1e-4);
  state->clear();
  EXPECT_LE(testing::relative_error(cached_forward(*mixer, *state, x, T), expected), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Positions, Lfa,
                         ::testing::Values(R"({"attention_types": ["LFA"]})",
                                           R"({"attention_types": ["LFA"],
                                               "pos_embedding": "rope"})"));

TEST(LfaModel, LaterTokensDoNotChangeEarlierLogitsAndCachedLogitsMatch) {
  Model m(config_of(R"({"attention_types": ["LFA", "Linear"], "pos_embedding": "rope",
                        "hc": true})"));
  m.init(7);
  expect_causal_and_cached(m, 40, {1, 20, 39});
}

TEST(LfaModel, ParameterNamesAndCount) {
  const ModelConfig cfg = config_of(R"({"attention_types": ["LFA"]})");
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
  const Model m(config_of(R"({"attention_types": ["LFA", "Linear"], "n_layer": 2})"));
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
