// The OpenAI-compatible response bodies of SPEC §14: text_completion / chat.completion, their
// stream chunks, logprobs in both formats, and usage. Text that is not valid UTF-8 (a token
// can end inside a character) is written with U+FFFD in its place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "serve/job.h"

namespace tinyr2::serve {

struct ResponseMeta {
  bool chat = false;
  std::string id, model;
  int64_t created = 0;
  int64_t prompt_tokens = 0;
};

// One JSON document as text (invalid UTF-8 replaced by U+FFFD).
std::string dump(const nlohmann::json& j);

// The complete (non-streamed) response for the events of a finished job.
nlohmann::json full_response(const ResponseMeta& meta, const std::vector<Event>& events,
                             const std::string& finish_reason, int64_t completion_tokens,
                             bool logprobs, const data::Tokenizer& tokenizer);

// A stream chunk with the events' text (and logprobs); finish_reason empty → null. For chat,
// `first` adds the role to the delta.
nlohmann::json chunk(const ResponseMeta& meta, const std::vector<Event>& events,
                     const std::string& finish_reason, bool logprobs, bool first,
                     const data::Tokenizer& tokenizer);

// The usage object and the final usage-only chunk (stream_options.include_usage).
nlohmann::json usage(int64_t prompt_tokens, int64_t completion_tokens);
nlohmann::json usage_chunk(const ResponseMeta& meta, int64_t completion_tokens);

}  // namespace tinyr2::serve
