// `tinyr2 serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--queue Q] [--ctx N]
//               [--api-key KEY] [--timeout S]` (SPEC §14)
//
// Binds and listens first, then loads the model and the tokenizer while /health answers 503;
// then serves the OpenAI-compatible API and the playground (src/serve/http_api.h) until
// killed. Prints "tinyr2 serve: listening on http://HOST:PORT" to stderr once it accepts
// connections (--port 0 picks a free port and prints it), "tinyr2 serve: ready" once the model
// is loaded. TINYR2_SERVE_LOAD_DELAY_MS (tests) delays the loading by that many milliseconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "nn/lora_files.h"
#include "nn/model.h"
#include "serve/http_api.h"

namespace tinyr2::cli {

Command make_serve_command() {
  struct Opt {
    std::string model, lora;
    serve::ServerOptions server;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("serve", "serve a model over HTTP (OpenAI-compatible API)");
    s->add_option("-m,--model", o->model, "model directory")->required();
    s->add_option("--host", o->server.host, "address to bind")->capture_default_str();
    s->add_option("--port", o->server.port, "port (0: any free port)")->capture_default_str();
    s->add_option("--parallel", o->server.scheduler.parallel,
                  "slots: requests decoded together in one batch")
        ->capture_default_str();
    s->add_option("--queue", o->server.scheduler.queue,
                  "requests that may wait for a slot (more get 503)")
        ->capture_default_str();
    s->add_option("--ctx", o->server.scheduler.ctx,
                  "context per request, prompt + generated (0: the model's ctx_len)")
        ->capture_default_str();
    s->add_option("--api-key", o->server.api_key, "require Authorization: Bearer KEY");
    s->add_option("--lora", o->lora, "apply this LoRA adapter directory (SPEC §12)");
    s->add_option("--timeout", o->server.timeout_s,
                  "seconds a read or write may stall before the connection is dropped")
        ->capture_default_str();
    return s;
  };
  c.execute = [o]() -> int {
    serve::ServerOptions& so = o->server;
    if (so.port < 0 || so.port > 65535) fail("--port must be in [0, 65535], got {}", so.port);
    if (so.scheduler.parallel < 1 || so.scheduler.parallel > 256)
      fail("--parallel must be in [1, 256], got {}", so.scheduler.parallel);
    if (so.scheduler.queue < 0 || so.scheduler.queue > 4096)
      fail("--queue must be in [0, 4096], got {}", so.scheduler.queue);
    if (so.scheduler.ctx < 0) fail("--ctx must be >= 0, got {}", so.scheduler.ctx);
    if (so.timeout_s < 1) fail("--timeout must be >= 1 second, got {}", so.timeout_s);

    so.model_name = std::filesystem::path(o->model).lexically_normal().filename().string();
    if (so.model_name.empty())
      so.model_name =
          std::filesystem::path(o->model).lexically_normal().parent_path().filename().string();
    if (so.model_name.empty()) so.model_name = "tinyr2";

    serve::HttpServer server(so);
    const int port = server.bind();
    std::thread http([&server] { server.listen(); });
    fmt::print(stderr, "tinyr2 serve: listening on http://{}:{}\n", so.host, port);
    std::fflush(stderr);
    try {
      if (const char* delay = std::getenv("TINYR2_SERVE_LOAD_DELAY_MS"))
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(delay)));
      auto model = nn::load_with_lora(o->model, o->lora);
      auto tokenizer = data::Tokenizer::load();
      fmt::print(stderr, "tinyr2 serve: model {} ({} parameters), {} slots, queue {}\n",
                 so.model_name, model->num_params(), so.scheduler.parallel, so.scheduler.queue);
      server.ready(std::move(model), std::move(tokenizer));
    } catch (...) {
      server.stop();
      http.join();
      throw;
    }
    fmt::print(stderr, "tinyr2 serve: ready\n");
    std::fflush(stderr);
    http.join();
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
