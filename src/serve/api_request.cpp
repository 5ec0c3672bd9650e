#include "serve/api_request.h"

#include <cmath>

#include <fmt/core.h>

#include "core/error.h"
#include "io/json_reader.h"

namespace tinyr2::serve {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 64;

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, param);
}

const char* type_name(const json& v) {
  return v.type_name();
}

// The field `key` when present and not null.
const json* field(const json& body, const char* key) {
  const auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

int64_t integer(const json& body, const char* key, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_number_integer())
    bad(key, fmt::format("'{}' must be an integer, got {}", key, type_name(*v)));
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad(key, fmt::format("'{}' must be at most {}", key, hi));
  const auto x = v->get<int64_t>();
  if (x < lo || x > hi) bad(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

double number(const json& body, const char* key, double def, double lo, double hi) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_number()) bad(key, fmt::format("'{}' must be a number, got {}", key, type_name(*v)));
  const auto x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

bool boolean(const json& body, const char* key, bool def) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_boolean()) bad(key, fmt::format("'{}' must be a boolean, got {}", key, type_name(*v)));
  return v->get<bool>();
}

std::vector<int32_t> token_ids(const json& arr, const char* key, int64_t vocab) {
  std::vector<int32_t> ids;
  for (const json& t : arr) {
    if (!t.is_number_integer())
      bad(key, fmt::format("'{}' must hold token ids (integers), got {}", key, type_name(t)));
    const auto id = t.get<int64_t>();
    if (id < 0 || id >= vocab)
      bad(key, fmt::format("token id {} is outside the vocabulary [0, {})", id, vocab));
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::string text_of(const json& v, const char* key) {
  if (!v.is_string()) bad(key, fmt::format("'{}' must be a string, got {}", key, type_name(v)));
  return v.get<std::string>();
}

// A chat message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_of(const json& m) {
  const json* c = field(m, "content");
  if (!c) return "";
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) bad("messages", "a message's 'content' must be a string or an array");
  std::string out;
  for (const json& part : *c) {
    if (!part.is_object() || !part.contains("text") || !part["text"].is_string())
      bad("messages", "a content part must be an object with a string 'text'");
    out += part["text"].get<std::string>();
  }
  return out;
}

}  // namespace

json error_object(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

json parse_body(const std::string& body) {
  json j;
  try {  // the bounded reader (io/json_reader.h): depth, sizes, duplicate keys, UTF-8
    j = io::parse_json(body, "request body", {.max_depth = kMaxDepth});
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  if (!j.is_object()) throw ApiError(400, "the body must be a JSON object");
  return j;
}

std::string render_chat(const json& messages) {
  if (!messages.is_array() || messages.empty())
    bad("messages", "'messages' must be a non-empty array");
  std::string out;
  for (const json& m : messages) {
    if (!m.is_object()) bad("messages", "each message must be an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad("messages", "each message needs a string 'role'");
    out += role->get<std::string>() + ": " + content_of(m) + "\n";
  }
  return out + "assistant:";
}

CompletionRequest parse_completion(const json& body, bool chat, const data::Tokenizer& tokenizer,
                                   int64_t ctx, int64_t vocab) {
  CompletionRequest r;
  r.chat = chat;
  GenParams& g = r.gen;
  if (chat) {
    const json* m = field(body, "messages");
    if (!m) bad("messages", "'messages' is required");
    g.prompt = tokenizer.encode(render_chat(*m));
  } else {
    const json* p = field(body, "prompt");
    if (!p) bad("prompt", "'prompt' is required");
    if (p->is_string()) {
      g.prompt = tokenizer.encode(p->get<std::string>());
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
      g.prompt = tokenizer.encode((*p)[0].get<std::string>());
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_array()) {
      g.prompt = token_ids((*p)[0], "prompt", vocab);
    } else if (p->is_array()) {
      g.prompt = token_ids(*p, "prompt", vocab);
    } else {
      bad("prompt", fmt::format("'prompt' must be a string or token ids, got {}", type_name(*p)));
    }
  }
  if (g.prompt.empty()) bad(chat ? "messages" : "prompt", "the prompt encodes to no tokens");
  // A text prompt's ids come from the tokenizer, whose vocabulary may be larger than the
  // model's (found by fuzz/serve_request_fuzz.cpp): reject them here, as token-id prompts are,
  // rather than fail in the model's embedding mid-batch (SPEC §14: no request can crash it).
  for (const int32_t id : g.prompt)
    if (id >= vocab)
      bad(chat ? "messages" : "prompt",
          fmt::format("the prompt's token {} is outside the model's vocabulary of {}", id, vocab));
  if (static_cast<int64_t>(g.prompt.size()) > ctx)
    throw ApiError(
        400,
        fmt::format("the prompt has {} tokens, more than the context of {}", g.prompt.size(), ctx),
        chat ? "messages" : "prompt", "invalid_request_error", "context_length_exceeded");
  const char* max_key =
      chat && field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  g.max_tokens = integer(body, max_key, chat ? ctx : 16, 0, ctx);
  g.sampling.temperature = number(body, "temperature", 1.0, 0.0, 2.0);
  g.sampling.top_p = number(body, "top_p", 1.0, 0.0, 1.0);
  g.sampling.top_k = integer(body, "top_k", 0, 0, vocab);
  if (const json* s = field(body, "seed")) {
    if (!s->is_number_integer())
      bad("seed", fmt::format("'seed' must be an integer, got {}", type_name(*s)));
    g.seed =
        s->is_number_unsigned() ? s->get<uint64_t>() : static_cast<uint64_t>(s->get<int64_t>());
    r.seeded = true;
  }
  if (const json* s = field(body, "stop")) {
    if (s->is_string()) {
      g.stop.push_back(s->get<std::string>());
    } else if (s->is_array() && s->size() <= 4) {
      for (const json& x : *s) g.stop.push_back(text_of(x, "stop"));
    } else {
      bad("stop", "'stop' must be a string or an array of at most 4 strings");
    }
  }
  r.stream = boolean(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    r.include_usage = boolean(*so, "include_usage", false);
  }
  if (chat) {
    if (boolean(body, "logprobs", false))
      g.logprobs = static_cast<int>(integer(body, "top_logprobs", 0, 0, 5));
  } else {
    const json* lp = field(body, "logprobs");
    if (lp && lp->is_boolean()) bad("logprobs", "'logprobs' must be an integer in [0, 5]");
    g.logprobs = static_cast<int>(integer(body, "logprobs", -1, 0, 5));
  }
  if (integer(body, "n", 1, 1, 1) != 1) bad("n", "'n' must be 1");
  return r;
}

std::vector<int32_t> parse_tokenize(const json& body, const data::Tokenizer& tokenizer) {
  const json* c = field(body, "content");
  if (!c) bad("content", "'content' is required");
  return tokenizer.encode(text_of(*c, "content"));
}

std::string parse_detokenize(const json& body, const data::Tokenizer& tokenizer, int64_t vocab) {
  const json* t = field(body, "tokens");
  if (!t || !t->is_array()) bad("tokens", "'tokens' must be an array of token ids");
  return tokenizer.decode(token_ids(*t, "tokens", std::min(vocab, tokenizer.vocab_size())));
}

}  // namespace tinyr2::serve
