// Generation (SPEC §5 generate, §7): the cached path picks the same tokens as the no-cache
// check path (greedy and seeded sampling), the ctx_len rule matches a hand-written loop over
// full forwards, <|endoftext|> stops, and streamed UTF-8 reproduces the token bytes exactly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "infer/generator.h"
#include "model_configs.h"
#include "nn/model.h"
#include "support/model_inputs.h"

namespace tinyr2::infer {

namespace {

using tinyr2::testing::random_token_ids;

std::unique_ptr<nn::Model> make_model(const std::string& json_over_base, uint64_t seed = 3) {
  nlohmann::json j = nlohmann::json::parse(testing::kBase);
  j.update(nlohmann::json::parse(json_over_base));
  auto m = std::make_unique<nn::Model>(nn::ModelConfig::from_json(j));
  m->init(seed);
  return m;
}

std::vector<int32_t> run(const nn::Model& model, const std::vector<int32_t>& prompt,
                         GenerationOptions opt, GenerationStats* stats = nullptr) {
  Generator g(model, opt);
  std::vector<int32_t> streamed;
  const std::vector<int32_t> out = g.generate(prompt, [&](int32_t id) { streamed.push_back(id); });
  EXPECT_EQ(out, streamed);
  if (stats) *stats = g.stats();
  return out;
}

// ctx_len 48: 120 new tokens after a 10-token prompt cross it several times.
const std::vector<std::string> kGenConfigs = {
    R"({"ctx_len": 48})",
    R"({"ctx_len": 48, "attention_types": ["Sparse"]})",
    R"({"ctx_len": 48, "attention_types": ["FULL", "Sparse"], "n_layer": 3, "types": ["moe", "mlp"],
        "hc": true, "v_residual": true, "block_size": 8, "block_stride": 4})",
};

TEST(Generator, CachedAndFullForwardPathsChooseTheSameTokens) {
  for (const std::string& cfg : kGenConfigs) {
    auto model = make_model(cfg);
    const std::vector<int32_t> prompt = random_token_ids(10, 101, 1);
    for (double temp : {0.0, 1.0}) {
      GenerationOptions opt;
      opt.max_new_tokens = 120;
      opt.sampling = {temp, 0, 1.0};
      opt.seed = 77;
      GenerationStats cached_stats, full_stats;
      opt.use_cache = true;
      const auto cached = run(*model, prompt, opt, &cached_stats);
      opt.use_cache = false;
      const auto full = run(*model, prompt, opt, &full_stats);
      EXPECT_EQ(cached.size(), 120u) << cfg;
      EXPECT_EQ(cached, full) << cfg << " temp " << temp;
      EXPECT_GE(cached_stats.context_cuts, 2) << cfg;
      EXPECT_EQ(cached_stats.context_cuts, full_stats.context_cuts);
      EXPECT_GT(cached_stats.cache_bytes, 0);
      EXPECT_EQ(full_stats.cache_bytes, 0);
      EXPECT_EQ(cached_stats.decode_steps, 119);
    }
  }
}

TEST(Generator, SeededSamplingIsReproducible) {
  auto model = make_model(kGenConfigs[2]);
  const std::vector<int32_t> prompt = random_token_ids(7, 101, 2);
  GenerationOptions opt;
  opt.max_new_tokens = 60;
  opt.sampling = {1.0, 20, 0.9};
  opt.seed = 5;
  const auto a = run(*model, prompt, opt);
  EXPECT_EQ(a, run(*model, prompt, opt));
  opt.seed = 6;
  EXPECT_NE(a, run(*model, prompt, opt));
}

TEST(Generator, ContextRuleCutsToHalfAndRestartsPositions) {
  std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  EXPECT_FALSE(apply_context_rule(ids, 5));
  ids.push_back(6);
  EXPECT_TRUE(apply_context_rule(ids, 5));
  EXPECT_EQ(ids, (std::vector<int32_t>{5, 6}));  // last ctx_len/2 = 2
  std::vector<int32_t> one = {7, 8};
  EXPECT_TRUE(apply_context_rule(one, 1));
  EXPECT_EQ(one, (std::vector<int32_t>{8}));  // at least one token survives

  // The generator against a loop written here: full forward of the context, argmax, append,
  // cut to the last ctx_len/2 when the context would exceed ctx_len. A prompt longer than
  // ctx_len (70 > 48) is cut first.
  for (const std::string& cfg : kGenConfigs) {
    auto model = make_model(cfg);
    const int64_t ctx_len = model->cfg.ctx_len, V = model->cfg.vocab_size;
    const std::vector<int32_t> prompt = random_token_ids(70, V, 4);
    std::vector<int32_t> context(prompt.end() - ctx_len / 2, prompt.end()), expected;
    while (expected.size() < 100) {
      Tape tape;
      NoGradGuard ng(tape);
      nn::ForwardContext ctx(tape);
      const int64_t T = static_cast<int64_t>(context.size());
      ASSERT_LE(T, ctx_len);
      const Tensor logits = model->forward(ctx, IndexTensor({1, T}, context)).logits;
      const float* last = logits.data() + (T - 1) * V;
      int32_t best = 0;
      for (int32_t v = 1; v < V; ++v)
        if (last[v] > last[best]) best = v;
      expected.push_back(best);
      context.push_back(best);
      if (static_cast<int64_t>(context.size()) > ctx_len)
        context.erase(context.begin(), context.end() - ctx_len / 2);
    }
    GenerationOptions opt;
    opt.max_new_tokens = 100;
    opt.sampling = {0.0, 0, 1.0};
    Generator g(*model, opt);
    EXPECT_EQ(g.generate(prompt), expected) << cfg;
    EXPECT_EQ(g.stats().prompt_tokens, ctx_len / 2);
    EXPECT_GE(g.stats().context_cuts, 3);
  }
}

TEST(Generator, StopsAtEndOfTextAndAtTheLimit) {
  auto model = make_model(kGenConfigs[1]);
  const std::vector<int32_t> prompt = random_token_ids(5, 101, 3);
  GenerationOptions opt;
  opt.sampling = {0.0, 0, 1.0};
  opt.max_new_tokens = 10;
  const auto ten = run(*model, prompt, opt);
  ASSERT_EQ(ten.size(), 10u);
  opt.eot = ten[3];  // pretend the 4th token is <|endoftext|>: three tokens come out
  size_t first = 0;
  while (ten[first] != ten[3]) ++first;
  EXPECT_EQ(run(*model, prompt, opt), std::vector<int32_t>(ten.begin(), ten.begin() + first));
  opt.eot = -1;
  opt.max_new_tokens = 0;
  EXPECT_TRUE(run(*model, prompt, opt).empty());
  opt.sample_vocab = 10;  // only ids < 10 may be drawn
  opt.max_new_tokens = 30;
  for (int32_t id : run(*model, prompt, opt)) EXPECT_LT(id, 10);
  Generator g(*model, opt);
  EXPECT_THROW(g.generate({}), Error);
  EXPECT_THROW(g.generate({101}), Error);
}

TEST(Utf8Stream, HoldsIncompleteCharactersAndReproducesTheBytes) {
  const std::string text = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80!";  // é € 😀
  for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= text.size(); ++cut2) {
      Utf8Stream s;
      std::string out;
      std::vector<std::string> chunks = {s.push(text.substr(0, cut1)),
                                         s.push(text.substr(cut1, cut2 - cut1)),
                                         s.push(text.substr(cut2))};
      for (const auto& c : chunks) out += c;
      EXPECT_TRUE(s.finish().empty());  // the text ends complete
      EXPECT_EQ(out, text);
      for (const auto& c : chunks) {  // every printed chunk is whole characters
        Utf8Stream check;
        EXPECT_EQ(check.push(c), c) << "cut at " << cut1 << ", " << cut2;
      }
    }
  }
  Utf8Stream s;
  EXPECT_EQ(s.push("a\xE2\x82"), "a");        // € is not complete yet
  EXPECT_EQ(s.push("\xFF"), "\xE2\x82\xFF");  // never will be: the bytes pass through
  EXPECT_EQ(s.push("\xF0\x9F"), "");
  EXPECT_EQ(s.finish(), "\xF0\x9F");  // held bytes come out at the end
}

}  // namespace

}  // namespace tinyr2::infer
