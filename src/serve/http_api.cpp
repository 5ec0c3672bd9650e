#include "serve/http_api.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <optional>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "core/error.h"
#include "serve/api_request.h"
#include "serve/api_response.h"
#include "serve/http_connection.h"
#include "serve/playground.h"

namespace tinyr2::serve {

using nlohmann::json;

namespace {

constexpr size_t kMaxBody = 1 << 20;  // SPEC §14: 413 beyond 1 MiB

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, error_object(e));
}

// The error object for a status that httplib set by itself (unknown route, oversized body,
// malformed request line).
ApiError status_error(int status) {
  switch (status) {
    case 404:
      return ApiError(404, "unknown route", "", "invalid_request_error", "not_found");
    case 413:
      return ApiError(413, "the request body exceeds 1 MiB", "", "invalid_request_error",
                      "payload_too_large");
    case 401:
      return ApiError(401, "invalid API key", "", "authentication_error", "invalid_api_key");
    case 503:
      return ApiError(503, "loading model", "", "unavailable_error", "model_loading");
    default:
      if (status >= 500) return ApiError(status, "internal server error", "", "server_error");
      return ApiError(status, "bad request");
  }
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}

}  // namespace

bool constant_time_equal(std::string_view secret, std::string_view a) {
  unsigned diff = secret.size() == a.size() ? 0u : 1u;
  for (size_t i = 0; i < secret.size(); ++i) {
    const auto x = static_cast<unsigned char>(secret[i]);
    const auto y = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

struct HttpServer::Impl {
  explicit Impl(ServerOptions o)
      : options(std::move(o)), server(std::chrono::seconds(options.timeout_s)) {}

  ServerOptions options;
  HttpConnections server;
  // Set once by ready(), before `loaded`; the model routes run only once `loaded` is true.
  std::unique_ptr<const nn::Model> model;
  std::optional<data::Tokenizer> tokenizer;
  std::unique_ptr<Scheduler> scheduler;
  std::atomic<bool> loaded{false};
  std::atomic<bool> listening{false}, listen_done{false}, stopping{false};
  std::atomic<int64_t> next_id{0};

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
  std::string metrics_text() const;
  // Runs a handler, turning ApiError / tinyr2::Error into error objects.
  template <typename F>
  auto guarded(F f) {
    return [f](const httplib::Request& req, httplib::Response& res) {
      try {
        f(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const Error& e) {
        send_error(res, ApiError(400, e.what()));
      } catch (const std::exception& e) {
        send_error(res, ApiError(500, e.what(), "", "server_error"));
      }
    };
  }
};

std::string HttpServer::Impl::metrics_text() const {
  const Metrics m = scheduler->metrics();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  metric("tinyr2_requests_total", "counter", "Generation requests accepted.", m.requests_total);
  metric("tinyr2_prompt_tokens_total", "counter", "Prompt tokens prefilled.",
         m.prompt_tokens_total);
  metric("tinyr2_generated_tokens_total", "counter", "Tokens generated.", m.generated_tokens_total);
  metric("tinyr2_requests_processing", "gauge", "Requests decoding in a slot.",
         m.requests_processing);
  metric("tinyr2_requests_queued", "gauge", "Requests waiting for a slot.", m.requests_queued);
  metric("tinyr2_decode_steps_total", "counter", "Batched decode forwards.", m.decode_steps);
  metric("tinyr2_decode_rows_total", "counter", "Sequences over all batched decode forwards.",
         m.decode_rows);
  metric("tinyr2_requests_cancelled_total", "counter",
         "Requests stopped early because their client went away.", m.requests_cancelled);
  return out;
}

void HttpServer::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  const data::Tokenizer& tok = *tokenizer;
  CompletionRequest cr =
      parse_completion(parse_body(req.body), chat, tok, scheduler->ctx(), model->cfg.vocab_size);
  if (!cr.seeded) cr.gen.seed = std::random_device{}();
  auto job = std::make_shared<Job>(cr.gen);
  if (!scheduler->submit(job))
    throw ApiError(503, "the server is busy: every slot is taken and the queue is full", "",
                   "server_error", "queue_full");
  ResponseMeta meta;
  meta.chat = chat;
  meta.id = fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", next_id.fetch_add(1));
  meta.model = options.model_name;
  meta.created = static_cast<int64_t>(std::time(nullptr));
  meta.prompt_tokens = static_cast<int64_t>(cr.gen.prompt.size());
  const bool logprobs = cr.gen.logprobs >= 0;

  if (!cr.stream) {
    // A client that closes its connection cancels the job (its slot is free at the next step);
    // so does leaving here any other way before the job is done.
    struct CancelUnlessDone {
      Job& job;
      bool done = false;
      ~CancelUnlessDone() {
        if (!done) job.cancel();
      }
    } guard{*job};
    std::vector<Event> events;
    while (!job->wait(events, std::chrono::milliseconds(50)))
      if (server.client_gone(req)) return;  // nobody to answer
    guard.done = true;
    if (!job->error().empty()) throw ApiError(500, job->error(), "", "server_error");
    send_json(
        res, 200,
        full_response(meta, events, job->finish_reason(), job->completion_tokens(), logprobs, tok));
    return;
  }

  struct Stream {
    bool first = true, finished = false;
    int idle_ms = 0;
  };
  auto st = std::make_shared<Stream>();
  const bool include_usage = cr.include_usage;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, st, meta, logprobs, include_usage, &tok](size_t, httplib::DataSink& sink) {
        std::vector<Event> events;
        const bool done = job->wait(events, std::chrono::milliseconds(100));
        std::string out;
        if (!events.empty()) {
          out += sse(chunk(meta, events, "", logprobs, st->first, tok));
          st->first = false;
        }
        if (done) {
          const std::string err = job->error();
          if (!err.empty())
            out += sse(error_object(ApiError(500, err, "", "server_error")));
          else
            out += sse(chunk(meta, {}, job->finish_reason(), false, st->first, tok));
          if (include_usage && err.empty()) out += sse(usage_chunk(meta, job->completion_tokens()));
          out += "data: [DONE]\n\n";
        }
        st->idle_ms = out.empty() ? st->idle_ms + 100 : 0;
        // An SSE comment now and then while nothing comes: a write is how a gone client shows.
        if (st->idle_ms >= 1000) {
          out = ": keep-alive\n\n";
          st->idle_ms = 0;
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) {
          job->cancel();
          return false;
        }
        if (done) {
          st->finished = true;
          sink.done();
        }
        return true;
      },
      [job](bool) { job->cancel(); });  // a no-op for a finished job
}

void HttpServer::Impl::routes() {
  server.set_payload_max_length(kMaxBody);
  server.set_read_timeout(options.timeout_s, 0);
  server.set_write_timeout(options.timeout_s, 0);
  server.set_keep_alive_timeout(options.timeout_s);
  const auto threads =
      static_cast<size_t>(options.scheduler.parallel + options.scheduler.queue + 8);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send_error(res, status_error(res.status));
  });
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/" || req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    if (!loaded.load()) {  // SPEC §14: 503 while loading
      send_error(res, status_error(503));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (options.api_key.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const std::string given = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : "";
    if (constant_time_equal(options.api_key, given))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, status_error(401));
    return httplib::Server::HandlerResponse::Handled;
  });

  server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (loaded.load())
      send_json(res, 200, {{"status", "ok"}});
    else
      send_json(res, 503, {{"status", "loading model"}});
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(playground_html()), "text/html; charset=utf-8");
  });
  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json m = {{"id", options.model_name},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "tinyr2"},
                    {"meta",
                     {{"n_ctx", scheduler->ctx()},
                      {"n_params", model->num_params()},
                      {"n_vocab", model->cfg.vocab_size}}}};
    send_json(res, 200, {{"object", "list"}, {"data", json::array({m})}});
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
  server.Post("/tokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
                send_json(res, 200, {{"tokens", parse_tokenize(parse_body(req.body), *tokenizer)}});
              }));
  server.Post("/detokenize", guarded([this](const httplib::Request& req, httplib::Response& res) {
                send_json(res, 200,
                          {{"content", parse_detokenize(parse_body(req.body), *tokenizer,
                                                        model->cfg.vocab_size)}});
              }));
  server.Post("/v1/completions",
              guarded([this](const httplib::Request& req, httplib::Response& res) {
                completion(req, res, false);
              }));
  server.Post("/v1/chat/completions",
              guarded([this](const httplib::Request& req, httplib::Response& res) {
                completion(req, res, true);
              }));
}

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::ready(std::unique_ptr<const nn::Model> model, data::Tokenizer tokenizer) {
  Impl& m = *impl_;
  TINYR2_CHECK(!m.loaded.load(), "serve: the model is already loaded");
  m.model = std::move(model);
  m.tokenizer.emplace(std::move(tokenizer));
  m.scheduler = std::make_unique<Scheduler>(*m.model, *m.tokenizer, m.options.scheduler);
  m.loaded.store(true);
}

int HttpServer::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->server.bind_to_any_port(o.host);
    if (port <= 0) fail("serve: cannot bind to {} (any port)", o.host);
    return port;
  }
  if (!impl_->server.bind_to_port(o.host, o.port))
    fail("serve: cannot bind to {}:{} (in use, or not a local address)", o.host, o.port);
  return o.port;
}

void HttpServer::listen() {
  impl_->listening.store(true);
  if (!impl_->stopping.load()) impl_->server.listen_after_bind();
  impl_->listen_done.store(true);
}

void HttpServer::stop() {
  Impl& m = *impl_;
  m.stopping.store(true);
  // httplib's stop() does nothing before its listen loop runs: wait until it does (or until
  // listen() saw `stopping` and returned).
  while (m.listening.load() && !m.listen_done.load() && !m.server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  m.server.stop();
}

}  // namespace tinyr2::serve
