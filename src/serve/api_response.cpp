#include "serve/api_response.h"

namespace tinyr2::serve {

using nlohmann::json;

namespace {

std::string token_text(const data::Tokenizer& tok, int32_t id) {
  return std::string(tok.token_bytes(id));
}

json bytes_of(const std::string& s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

// Completions format: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}.
json completion_logprobs(const std::vector<Event>& events, const data::Tokenizer& tok,
                         int64_t offset0) {
  json lp = {{"tokens", json::array()},
             {"token_logprobs", json::array()},
             {"top_logprobs", json::array()},
             {"text_offset", json::array()}};
  int64_t offset = offset0;
  for (const Event& e : events) {
    if (e.token.id < 0) continue;
    const std::string t = token_text(tok, e.token.id);
    lp["tokens"].push_back(t);
    lp["token_logprobs"].push_back(e.token.logprob);
    json top = json::object();
    for (const auto& [id, l] : e.token.top) top[token_text(tok, id)] = l;
    lp["top_logprobs"].push_back(top);
    lp["text_offset"].push_back(offset);
    offset += static_cast<int64_t>(t.size());
  }
  return lp;
}

// Chat format: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
json chat_logprobs(const std::vector<Event>& events, const data::Tokenizer& tok) {
  json content = json::array();
  for (const Event& e : events) {
    if (e.token.id < 0) continue;
    const std::string t = token_text(tok, e.token.id);
    json top = json::array();
    for (const auto& [id, l] : e.token.top) {
      const std::string s = token_text(tok, id);
      top.push_back({{"token", s}, {"logprob", l}, {"bytes", bytes_of(s)}});
    }
    content.push_back({{"token", t},
                       {"logprob", e.token.logprob},
                       {"bytes", bytes_of(t)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

std::string joined_text(const std::vector<Event>& events) {
  std::string s;
  for (const Event& e : events) s += e.text;
  return s;
}

json finish(const std::string& reason) {
  return reason.empty() ? json(nullptr) : json(reason);
}

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json full_response(const ResponseMeta& meta, const std::vector<Event>& events,
                   const std::string& finish_reason, int64_t completion_tokens, bool logprobs,
                   const data::Tokenizer& tok) {
  json choice = {{"index", 0}, {"finish_reason", finish(finish_reason)}};
  if (meta.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", joined_text(events)}};
    choice["logprobs"] = logprobs ? chat_logprobs(events, tok) : json(nullptr);
  } else {
    choice["text"] = joined_text(events);
    choice["logprobs"] = logprobs ? completion_logprobs(events, tok, 0) : json(nullptr);
  }
  return {{"id", meta.id},
          {"object", meta.chat ? "chat.completion" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array({choice})},
          {"usage", usage(meta.prompt_tokens, completion_tokens)}};
}

json chunk(const ResponseMeta& meta, const std::vector<Event>& events,
           const std::string& finish_reason, bool logprobs, bool first,
           const data::Tokenizer& tok) {
  json choice = {{"index", 0}, {"finish_reason", finish(finish_reason)}};
  if (meta.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    const std::string text = joined_text(events);
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = delta;
    choice["logprobs"] = logprobs && !events.empty() ? chat_logprobs(events, tok) : json(nullptr);
  } else {
    choice["text"] = joined_text(events);
    choice["logprobs"] =
        logprobs && !events.empty() ? completion_logprobs(events, tok, 0) : json(nullptr);
  }
  return {{"id", meta.id},
          {"object", meta.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array({choice})}};
}

json usage_chunk(const ResponseMeta& meta, int64_t completion_tokens) {
  return {{"id", meta.id},
          {"object", meta.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array()},
          {"usage", usage(meta.prompt_tokens, completion_tokens)}};
}

}  // namespace tinyr2::serve
