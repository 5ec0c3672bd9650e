// Reading OpenAI-style request bodies (SPEC §14) into GenParams, and the OpenAI error object.
//
// Bodies are parsed with a nesting limit (64) after the HTTP layer's 1 MiB cap; every
// problem — bad JSON, a field of the wrong type or out of range, a prompt longer than the
// context, a token id outside the vocabulary — is an ApiError that the server answers with
// {"error": {"message", "type", "param", "code"}} and its status (400 here).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "serve/job.h"

namespace tinyr2::serve {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "",
           std::string type = "invalid_request_error", std::string code = "")
      : std::runtime_error(message),
        status(status),
        param(std::move(param)),
        type(std::move(type)),
        code(std::move(code)) {}
  int status;
  std::string param, type, code;
};

// {"error": {"message", "type", "param" (null when empty), "code" (null when empty)}}
nlohmann::json error_object(const ApiError& e);

// The body as JSON (an object), at most 64 levels deep; ApiError 400 otherwise.
nlohmann::json parse_body(const std::string& body);

struct CompletionRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  GenParams gen;
  bool seeded = false;  // whether the body gave a seed (else the caller picks one)
};

// /v1/completions (chat = false) or /v1/chat/completions (chat = true) — SPEC §14. `ctx` is
// the server's context per request: the prompt must fit it, max_tokens may not exceed it.
CompletionRequest parse_completion(const nlohmann::json& body, bool chat,
                                   const data::Tokenizer& tokenizer, int64_t ctx, int64_t vocab);

// The chat prompt of SPEC §14: "{role}: {content}\n" per message, then "assistant:".
std::string render_chat(const nlohmann::json& messages);

// /tokenize {"content": string} → ids; /detokenize {"tokens": [ids]} → text.
std::vector<int32_t> parse_tokenize(const nlohmann::json& body, const data::Tokenizer& tokenizer);
std::string parse_detokenize(const nlohmann::json& body, const data::Tokenizer& tokenizer,
                             int64_t vocab);

}  // namespace tinyr2::serve
