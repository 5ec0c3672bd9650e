// A text prompt's token ids against the model's vocabulary (SPEC §14: no request can crash
// the server): the GPT-2 tokenizer can produce ids the model's embedding lacks when the model
// has the smaller vocabulary; parse_completion must answer those with a 400 naming the field,
// exactly as it does for token-id prompts (found by fuzz/serve_request_fuzz.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "serve/api_request.h"

namespace {

using nlohmann::json;
using tinyr2::data::Tokenizer;
namespace serve = tinyr2::serve;

const Tokenizer& tok() {
  static const Tokenizer t = Tokenizer::load();
  return t;
}

// The outcome the property demands: accepted iff every id of the tokenizer's encoding is
// below `vocab`, and then the prompt is that encoding.
void expect_checked(const json& body, bool chat, const std::string& text, int64_t vocab) {
  const auto ids = tok().encode(text);
  const bool fits = std::all_of(ids.begin(), ids.end(), [&](int32_t id) { return id < vocab; });
  try {
    const auto r = serve::parse_completion(body, chat, tok(), 64, vocab);
    EXPECT_TRUE(fits) << text << " accepted with vocab " << vocab;
    EXPECT_EQ(r.gen.prompt, ids);
  } catch (const serve::ApiError& e) {
    EXPECT_FALSE(fits) << text << ": " << e.what();
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, chat ? "messages" : "prompt");
  }
}

TEST(ServeApiRequest, TextPromptIdsMustFitTheModelVocabulary) {
  for (const std::string text : {"a b", "Hello, world", "xyz", "!!"}) {
    for (const int64_t vocab : {int64_t{300}, int64_t{20000}, int64_t{tok().vocab_size()}}) {
      expect_checked(json{{"prompt", text}}, false, text, vocab);
      expect_checked(json{{"prompt", json::array({text})}}, false, text, vocab);
      const json chat = {{"messages", json::array({{{"role", "user"}, {"content", text}}})}};
      expect_checked(chat, true, "user: " + text + "\nassistant:", vocab);
    }
  }
  // Both outcomes occur above (the property is not vacuous).
  EXPECT_LT(tok().encode("a b").back(), 300);
  EXPECT_GE(tok().encode("Hello, world").front(), 300);
}

}  // namespace
