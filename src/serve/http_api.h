// The HTTP server of SPEC §14 on cpp-httplib: the routes, their OpenAI-compatible bodies,
// Server-Sent Events streaming, the API key, size and time limits. Generation itself is the
// Scheduler's (serve/scheduler.h); this file turns requests into Jobs and Jobs into responses.
//
//   GET  /health  /v1/models  /metrics  /          POST /tokenize  /detokenize
//   POST /v1/completions  /v1/chat/completions    (stream: data: {json}\n\n … data: [DONE]\n\n)
//
// Loading: the server listens before the model is loaded (ready() installs it); until then
// /health answers 503 {"status":"loading model"} (llama.cpp's convention), every model route
// 503 with an error object, and / serves the page.
// Limits: bodies over 1 MiB → 413; a request whose line, headers and body do not all arrive
// within `timeout_s` of its first byte, or that stalls longer than that between reads, is
// dropped (slowloris; serve/http_connection.h); with an API key every route except / and
// /health needs "Authorization: Bearer KEY" (compared in constant time) → 401. Every error is
// an OpenAI error object (serve/api_request.h). A client that goes away, streaming or not,
// cancels its job, which frees its slot at the scheduler's next step.
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
  int timeout_s = 10;  // per read / write, and for a whole request's arrival
  std::string model_name = "tinyr2";
  SchedulerOptions scheduler;
};

// Whether a equals the secret, in time that depends only on the secret's length.
bool constant_time_equal(std::string_view secret, std::string_view a);

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int bind();     // binds host:port; returns the port (throws tinyr2::Error on failure)
  void listen();  // serves until stop() (from any thread, also before listen() began)
  void stop();
  // Installs the loaded model (once, from any thread): from now on the model routes serve and
  // /health answers 200.
  void ready(std::unique_ptr<const nn::Model> model, data::Tokenizer tokenizer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyr2::serve
