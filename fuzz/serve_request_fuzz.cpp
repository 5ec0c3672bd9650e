// Fuzz target for the server's request handling (SPEC §14): any bytes, taken as an HTTP
// request body (serve::parse_body), then read as a /v1/completions, a /v1/chat/completions,
// a /tokenize and a /detokenize request (GPT-2 tokenizer), give a request or a one-line
// serve::ApiError (status 400) / tinyr2::Error — never a crash or undefined behaviour. An
// accepted completion must respect the ranges the server relies on (prompt of 1 … ctx ids in
// the vocabulary, max_tokens ≤ ctx, sampling parameters in range). Needs the vocabulary in
// $TINYR2_HOME/gpt2 (scripts/setup). See README.md.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "data/tokenizer.h"
#include "fuzz_main.h"
#include "serve/api_request.h"

namespace {

namespace serve = tinyr2::serve;

constexpr int64_t kCtx = 48;
constexpr int64_t kSmallVocab = 1000;

const tinyr2::data::Tokenizer& tokenizer() {
  static const tinyr2::data::Tokenizer tok = tinyr2::data::Tokenizer::load();
  return tok;
}

void check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "serve_request_fuzz: %s: %.200s\n", what, detail.c_str());
  std::abort();
}

void check_message(const std::string& m) {
  check(!m.empty() && m.find('\n') == std::string::npos && m.size() < 1000,
        "an empty, long or multi-line message", m);
}

void check_completion(const serve::CompletionRequest& r, int64_t vocab, const std::string& in) {
  const serve::GenParams& g = r.gen;
  const auto n = static_cast<int64_t>(g.prompt.size());
  check(n >= 1 && n <= kCtx, "a prompt outside [1, ctx] accepted", in);
  for (const int32_t id : g.prompt)
    check(id >= 0 && id < vocab, "a prompt id outside the vocabulary", in);
  check(g.max_tokens >= 0 && g.max_tokens <= kCtx, "max_tokens outside [0, ctx]", in);
  const auto& s = g.sampling;
  check(std::isfinite(s.temperature) && s.temperature >= 0 && s.temperature <= 2,
        "temperature outside [0, 2]", in);
  check(std::isfinite(s.top_p) && s.top_p >= 0 && s.top_p <= 1, "top_p outside [0, 1]", in);
  check(s.top_k >= 0 && s.top_k <= vocab, "top_k outside [0, vocab]", in);
  check(g.stop.size() <= 4, "more than 4 stop strings", in);
  check(g.logprobs >= -1 && g.logprobs <= 5, "logprobs outside [-1, 5]", in);
}

// Runs `f`; an ApiError must be a 400 with a one-line message in its error object (which the
// server dumps with invalid UTF-8 replaced, serve/api_response.cpp).
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const serve::ApiError& e) {
    check(e.status == 400, "an ApiError that is not a 400", e.what());
    check_message(e.what());
    const nlohmann::json o = serve::error_object(e);
    check(o.at("error").at("message") == e.what(), "the error object lost the message", e.what());
  } catch (const tinyr2::Error& e) {
    check_message(e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto& tok = tokenizer();
  guarded([&] {
    const nlohmann::json body = serve::parse_body(text);
    check(body.is_object(), "a body that is not an object accepted", text);
    for (const bool chat : {false, true}) {
      for (const int64_t vocab : {static_cast<int64_t>(tok.vocab_size()), kSmallVocab}) {
        guarded([&] {
          const auto r = serve::parse_completion(body, chat, tok, kCtx, vocab);
          check(r.chat == chat, "the chat flag lost", text);
          check_completion(r, vocab, text);
        });
      }
    }
    guarded([&] {
      for (const int32_t id : serve::parse_tokenize(body, tok))
        check(id >= 0 && id < tok.vocab_size(), "a /tokenize id outside the vocabulary", text);
    });
    guarded([&] { serve::parse_detokenize(body, tok, kSmallVocab); });
  });
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      R"({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0.7, "top_p": 0.9,
          "top_k": 40, "seed": 1234, "stop": ["\n", "The"], "stream": true,
          "stream_options": {"include_usage": true}, "logprobs": 2, "n": 1})",
      R"({"prompt": [[464, 3290, 11]], "max_tokens": 0, "seed": -1})",
      R"({"prompt": ["text in a list"], "stop": "x", "temperature": 0})",
      R"({"messages": [{"role": "system", "content": "Be brief."},
          {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text",
          "text": "there"}]}], "max_completion_tokens": 5, "logprobs": true, "top_logprobs": 3})",
      R"({"messages": [{"role": "user", "content": "\u00e9t\u00e9 \ud83d\ude00"}], "stream": false})",
      R"({"content": "Hello, world! <|endoftext|>"})",
      R"({"tokens": [15496, 11, 995, 0, 999]})",
  };
}
