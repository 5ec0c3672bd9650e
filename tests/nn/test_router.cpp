// SPEC §11 properties that need no oracle (the PyTorch parity is in test_model_parity.cpp,
// suite FfnRouters): position-major admission and expert choice on hand-made cases, a
// capacity that really drops, causality in eval mode for every router and in training mode
// for capacity-limited token-choice routers, cached decode = full forward, GLU init,
// config errors, moe_dropped in metrics.jsonl.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model_checks.h"
#include "nn/model.h"
#include "nn/moe_router.h"
#include "support/model_inputs.h"
#include "support/small_model.h"
#include "train/metrics.h"

namespace tinyr2::nn {

namespace {

using testing::small_model_config;

std::string error_of(const std::string& extra) {
  try {
    small_model_config(extra);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Training-mode logits (gate noise off, no dropout) of ids (B, T).
Tensor train_logits(const Model& m, const IndexTensor& ids) {
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  ctx.training = true;
  ctx.gate_noise = false;
  return m.forward(ctx, ids).logits;
}

}  // namespace

TEST(Router, PositionMajorAdmissionDropsTheLatestPositionsFirst) {
  // B = 2, T = 3, K = 2; rows n = b·T + t. Every token picks experts {0, 1}; cap 3 admits
  // (t0,b0), (t0,b1), (t1,b0) for each expert and drops the rest.
  std::vector<int32_t> idx(12);
  for (size_t s = 0; s < idx.size(); ++s) idx[s] = static_cast<int32_t>(s % 2);
  EXPECT_EQ(admit_position_major(idx, 2, 3, 2, 3), 6);
  const std::vector<int32_t> expected = {0, 1, 0,  1,  -1, -1,   // b0: t0, t1 kept; t2 dropped
                                         0, 1, -1, -1, -1, -1};  // b1: t0 kept; t1, t2 dropped
  EXPECT_EQ(idx, expected);
  // Slot order within a token: the rank-0 choice is admitted before the rank-1 choice.
  std::vector<int32_t> one = {2, 2};  // one token picks expert 2 twice over (hypothetically)
  EXPECT_EQ(admit_position_major(one, 1, 1, 2, 1), 1);
  EXPECT_EQ(one, (std::vector<int32_t>{2, -1}));
}

TEST(Router, ExpertChoiceTakesEachExpertsTopTokensTiesToTheLowerIndex) {
  const int64_t N = 7, E = 3, cap = 3;
  Rng rng(5);
  std::vector<float> p(static_cast<size_t>(N * E));
  for (auto& v : p) v = static_cast<float>(rng.next_below(4));  // many ties
  const IndexTensor idx = expert_choice(p.data(), N, E, cap);
  for (int64_t e = 0; e < E; ++e) {
    std::vector<std::pair<float, int64_t>> order;  // (−p, n): ascending = p desc, n asc
    for (int64_t n = 0; n < N; ++n) order.push_back({-p[n * E + e], n});
    std::sort(order.begin(), order.end());
    for (int64_t r = 0; r < N; ++r) {
      const int64_t n = order[static_cast<size_t>(r)].second;
      EXPECT_EQ(idx.data[static_cast<size_t>(n * E + e)], r < cap ? e : -1)
          << "expert " << e << " rank " << r;
    }
  }
  EXPECT_EQ(moe_capacity(1.0, 80, 2, 4), 40);
  EXPECT_EQ(moe_capacity(0.3, 10, 1, 4), 1);   // ceil(0.75)
  EXPECT_EQ(moe_capacity(5.0, 10, 2, 2), 10);  // at most N
}

TEST(Router, ACapacityReallyDropsAndCountsIt) {
  for (const char* router : {"topk", "attention", "deepseek"}) {
    Model m(small_model_config(fmt::format(R"({{"types": ["moe"], "router": "{}", "n_experts": 4,
                                   "num_exp": 2, "capacity_factor": 0.5}})",
                                           router)));
    m.init(3);
    train_logits(m, testing::random_ids(2, 40, 101, 2));
    for (const DSMoE* l : m.moe_layers()) {
      EXPECT_GT(l->dropped(), 0) << router;
      EXPECT_LT(l->dropped(), l->assignments()) << router;
      EXPECT_TRUE(l->capacity_limited());
    }
  }
}

// Training mode, capacity-limited token-choice routers: with B = 2 sequences, changing the
// tokens of row 0 from position p on changes no logit of either row before p.
class RouterTrainingCausality : public ::testing::TestWithParam<std::string> {};

TEST_P(RouterTrainingCausality, LaterPositionsDoNotChangeEarlierOnes) {
  Model m(small_model_config(GetParam()));
  m.init(11);
  const int64_t B = 2, T = 40, V = m.cfg.vocab_size;
  const std::vector<int32_t> v = testing::random_token_ids(B * T, V, 4);
  const Tensor base = train_logits(m, IndexTensor({B, T}, v));
  for (int64_t p : {5, 23}) {
    std::vector<int32_t> w = v;
    for (int64_t t = p; t < T; ++t) w[t] = (w[t] + 13) % static_cast<int32_t>(V);
    const Tensor other = train_logits(m, IndexTensor({B, T}, w));
    double before = 0, after = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < V; ++c) {
          const int64_t i = (b * T + t) * V + c;
          const double d = std::abs(double(base.data()[i]) - other.data()[i]);
          (t < p ? before : after) = std::max(t < p ? before : after, d);
        }
    EXPECT_LE(before, 1e-6) << "a position < " << p << " changed";
    EXPECT_GT(after, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Capacity, RouterTrainingCausality,
    ::testing::Values(
        R"({"types": ["moe"], "router": "topk", "n_experts": 4, "num_exp": 2,
            "capacity_factor": 0.5})",
        R"({"types": ["moe"], "router": "attention", "n_experts": 4, "num_exp": 1,
            "capacity_factor": 0.6, "moe_expert": "glu"})",
        R"({"types": ["moe"], "n_experts": 5, "num_exp": 3, "capacity_factor": 0.4})"));

// Eval mode, every router and FFN kind: causal, and cached decode = full forward.
class RouterEvalCausality : public ::testing::TestWithParam<std::string> {};

TEST_P(RouterEvalCausality, CausalAndCachedDecodeEqualsFullForward) {
  Model m(small_model_config(GetParam()));
  m.init(9);
  expect_causal_and_cached(m, 30, {1, 13, 29});
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, RouterEvalCausality,
    ::testing::Values(
        R"({"types": ["glu"], "glu_activation": "silu"})",
        R"({"types": ["glu"], "glu_activation": "relu", "glu_hidden": 20})",
        R"({"types": ["moe"], "moe_expert": "glu", "glu_activation": "sigmoid"})",
        R"({"types": ["moe"], "router": "topk", "num_exp": 1, "capacity_factor": 0.5})",
        R"({"types": ["moe"], "router": "attention", "num_exp": 2})",
        R"({"types": ["moe"], "router": "expert_choice", "num_exp": 2, "capacity_factor": 0.5,
            "moe_expert": "glu", "glu_activation": "bilinear"})"));

TEST(Glu, InitIsXavierForSigmoidAndBilinearKaimingForTheReluFamily) {
  for (const char* act : {"silu", "gelu", "relu", "sigmoid", "bilinear"}) {
    Model m(small_model_config(fmt::format(R"({{"types": ["glu"], "n_embd": 64, "n_head": 2,
                                   "glu_hidden": 192, "glu_activation": "{}"}})",
                                           act)));
    m.init(1);
    const bool xavier = std::string(act) == "sigmoid" || std::string(act) == "bilinear";
    for (const char* name : {"c_gate", "c_up", "c_proj"}) {
      const NamedTensor* nt = m.params.find(fmt::format("blocks.0.ffn.{}.weight", name));
      ASSERT_NE(nt, nullptr) << name;
      const Tensor& w = nt->tensor;
      const double fan_in = static_cast<double>(w.size(1)),
                   fan_out = static_cast<double>(w.size(0));
      const double expected =
          xavier ? std::sqrt(2.0 / (fan_in + fan_out)) : std::sqrt(2.0 / fan_in);
      double ss = 0;
      for (int64_t i = 0; i < w.numel(); ++i) ss += double(w.data()[i]) * w.data()[i];
      EXPECT_NEAR(std::sqrt(ss / static_cast<double>(w.numel())), expected, 0.05 * expected)
          << act << " " << name;
    }
  }
}

TEST(RouterConfig, BadNamesAndCombinationsAreOneLineNamingTheKey) {
  EXPECT_NE(error_of(R"({"router": "switch"})").find("\"router\""), std::string::npos);
  EXPECT_NE(error_of(R"({"router": "switch"})").find("switch"), std::string::npos);
  EXPECT_NE(error_of(R"({"glu_activation": "tanh"})").find("\"glu_activation\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"moe_expert": "moe"})").find("\"moe_expert\""), std::string::npos);
  EXPECT_NE(error_of(R"({"types": ["swiglu"]})").find("\"types\""), std::string::npos);
  EXPECT_NE(error_of(R"({"router": "expert_choice"})").find("\"capacity_factor\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"router": "topk", "n_experts": 4, "num_exp": 5})").find("\"num_exp\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"capacity_factor": -1})").find("\"capacity_factor\""), std::string::npos);
  EXPECT_NE(error_of(R"({"num_exp": 1})").find("\"num_exp\""), std::string::npos);  // deepseek
  for (const char* ok : {R"({"router": "topk", "num_exp": 1})",
                         R"({"router": "expert_choice", "capacity_factor": 1.5})"})
    EXPECT_EQ(error_of(ok), "") << ok;
  const std::string msg = error_of(R"({"router": "expert_choice"})");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(RouterMetrics, MoeDroppedIsWrittenAndReadBack) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("tinyr2_router_metrics_{}", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    train::MetricsLog log(dir.string(), -1);
    train::TrainRecord r;
    r.step = 1;
    r.moe_dropped = {0.25, 0.5};
    log.append(r);
    r.step = 2;
    r.moe_dropped.clear();
    log.append(r);
  }
  std::ifstream in(dir / "metrics.jsonl");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  EXPECT_NE(text.find(R"("moe_dropped":[0.25,0.5])"), std::string::npos) << text;
  EXPECT_EQ(text.find("moe_dropped"), text.rfind("moe_dropped")) << "only where there are such";
  train::MetricsLog again(dir.string(), 2);
  ASSERT_EQ(again.train().size(), 2u);
  EXPECT_EQ(again.train()[0].moe_dropped, (std::vector<double>{0.25, 0.5}));
  std::filesystem::remove_all(dir);
}

}  // namespace tinyr2::nn
