// The HTTP server of SPEC §14 on cpp-httplib: the routes, their OpenAI-compatible bodies,
// Server-Sent Events streaming, the API key, size and time limits. Generation itself is the
// Scheduler's (serve/scheduler.h); this file turns requests into Jobs and Jobs into responses.
//
//   GET  /health  /v1/models  /metrics  /          POST /tokenize  /detokenize
//   POST /v1/completions  /v1/chat/completions    (stream: data: {json}\n\n … data: [DONE]\n\n)
//
// Limits: bodies over 1 MiB → 413; a request (or a body) that stalls longer than `timeout_s`
// between reads is dropped (slowloris); with an API key every route except / and /health
// needs "Authorization: Bearer KEY" (compared in constant time) → 401. Every error is an
// OpenAI error object (serve/api_request.h). A streaming client that goes away cancels its
// job, which frees its slot at the scheduler's next step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "data/tokenizer.h"
#include "nn/model.h"
#include "serve/scheduler.h"

namespace tinyr2::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the chosen one is returned by bind())
  std::string api_key;
  int timeout_s = 10;  // read / write timeout per socket operation
  std::string model_name = "tinyr2";
  SchedulerOptions scheduler;
};

// Whether a equals the secret, in time that depends only on the secret's length.
bool constant_time_equal(std::string_view secret, std::string_view a);

class HttpServer {
 public:
  HttpServer(const nn::Model& model, const data::Tokenizer& tokenizer, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int bind();     // binds host:port; returns the port (throws tinyr2::Error on failure)
  void listen();  // serves until stop()
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyr2::serve
