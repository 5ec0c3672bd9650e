// `tinyr2 serve`'s connection handling (SPEC §14), against a real server process with raw
// sockets (tests/serve/raw_http.h), no node needed:
//   - /health answers 503 {"status":"loading model"} while the model loads, then 200;
//   - a non-streaming request whose client hangs up frees its slot within a step or two;
//   - a client that trickles its headers (slowloris) is cut off after --timeout in total.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "raw_http.h"
#include "server_process.h"
#include "support/cli.h"

namespace tinyr2 {

namespace {

using Clock = std::chrono::steady_clock;
using testing::http_request;
using testing::metric;
using testing::RawConnection;
using testing::ServerProcess;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class ServeConnections : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>("serve_conn");
    // A long context, so that one request can run for seconds.
    testing::write_file(*dir_ / "config.json", R"({"ctx_len": 4096, "n_embd": 32, "n_head": 2,
      "n_layer": 1, "attention_types": ["FULL"], "types": ["mlp"], "q_lora_rank": 16,
      "kv_lora_rank": 8, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8,
      "init_std": 0.2})");
    const testing::CliResult r = testing::run_cli(
        fmt::format("init --config {} --out {} -s 3", *dir_ / "config.json", *dir_ / "model"),
        *dir_ / "cli");
    ASSERT_EQ(r.status, 0) << r.err;
    // One slot, no queue: a second request while the slot is busy gets 503 at once.
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"-t", "1", "serve", "-m", *dir_ / "model", "--parallel", "1",
                                 "--queue", "0", "--timeout", "1"},
        *dir_ / "server.log");
  }
  static void TearDownTestSuite() {
    server_.reset();
    dir_.reset();
  }
  void SetUp() override {
    ASSERT_GT(server_->port(), 0) << testing::read_file(server_->log_file());
  }
  void TearDown() override {
    EXPECT_TRUE(server_->running()) << testing::read_file(server_->log_file());
  }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::unique_ptr<ServerProcess> server_;
};

std::unique_ptr<testing::TempDir> ServeConnections::dir_;
std::unique_ptr<ServerProcess> ServeConnections::server_;

TEST_F(ServeConnections, HealthIs503WhileTheModelLoadsThen200) {
  // The loading is held back 1.5 s by the test hook; the server listens before it.
  ServerProcess loading({"-t", "1", "serve", "-m", *dir_ / "model"}, *dir_ / "loading.log",
                        /*wait_ready=*/false, {"TINYR2_SERVE_LOAD_DELAY_MS=1500"});
  ASSERT_GT(loading.port(), 0) << testing::read_file(loading.log_file());
  const auto first = http_request(loading.port(), "GET", "/health");
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(nlohmann::json::parse(first.body), nlohmann::json({{"status", "loading model"}}));
  const auto models = http_request(loading.port(), "GET", "/v1/models");
  EXPECT_EQ(models.status, 503);
  EXPECT_EQ(nlohmann::json::parse(models.body)["error"]["code"], "model_loading") << models.body;
  EXPECT_EQ(http_request(loading.port(), "GET", "/").status, 200);  // the page needs no model

  int status = 503, polls = 0;
  const auto t0 = Clock::now();
  while (status == 503 && seconds_since(t0) < 60) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = http_request(loading.port(), "GET", "/health").status;
    ++polls;
  }
  EXPECT_EQ(status, 200) << testing::read_file(loading.log_file());
  EXPECT_GT(polls, 3);  // it did answer 503 for a while
  EXPECT_EQ(http_request(loading.port(), "GET", "/v1/models").status, 200);
  EXPECT_EQ(http_request(loading.port(), "POST", "/v1/completions",
                         R"({"prompt": "hi", "max_tokens": 2})")
                .status,
            200);
}

TEST_F(ServeConnections, AModelThatFailsToLoadStopsTheServer) {
  // It listened first; the failed load stops the listener and `serve` exits with the error.
  const testing::CliResult r =
      testing::run_cli(fmt::format("serve -m {} --port 0", *dir_ / "missing"), *dir_ / "cli");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("listening on http://"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a model directory"), std::string::npos) << r.err;
}

TEST_F(ServeConnections, NonStreamingClientThatHangsUpFreesItsSlot) {
  const int port = server_->port();
  const long long generated0 = metric(port, "tinyr2_generated_tokens_total");
  const long long cancelled0 = metric(port, "tinyr2_requests_cancelled_total");
  ASSERT_GE(generated0, 0);
  ASSERT_GE(cancelled0, 0);
  RawConnection c(port);
  ASSERT_GE(c.fd(), 0);
  const std::string body = R"({"prompt": "hello", "max_tokens": 4000, "logprobs": 5, "seed": 1})";
  ASSERT_TRUE(
      c.send(fmt::format("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                         body.size(), body)));
  // Hang up once it is generating.
  const auto t_wait = Clock::now();
  while (metric(port, "tinyr2_generated_tokens_total") == generated0 && seconds_since(t_wait) < 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GT(metric(port, "tinyr2_generated_tokens_total"), generated0);
  EXPECT_EQ(
      http_request(port, "POST", "/v1/completions", R"({"prompt": "x", "max_tokens": 1})").status,
      503);  // the only slot is taken
  c.close();
  const auto t0 = Clock::now();
  while ((metric(port, "tinyr2_requests_processing") != 0 ||
          metric(port, "tinyr2_requests_cancelled_total") != cancelled0 + 1) &&
         seconds_since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double freed_s = seconds_since(t0);
  EXPECT_EQ(metric(port, "tinyr2_requests_processing"), 0);
  EXPECT_EQ(metric(port, "tinyr2_requests_cancelled_total"), cancelled0 + 1);
  EXPECT_LT(freed_s, 1.0) << "the slot was freed only after " << freed_s << " s";
  EXPECT_LT(metric(port, "tinyr2_generated_tokens_total") - generated0, 4000);
  // The next request gets the slot at once.
  const auto next = http_request(port, "POST", "/v1/completions",
                                 R"({"prompt": "x", "max_tokens": 2, "temperature": 0})");
  EXPECT_EQ(next.status, 200) << next.body;
  std::printf("slot freed %.3f s after the client hung up\n", freed_s);
}

TEST_F(ServeConnections, TricklingHeadersAreCutOffAfterTheTimeoutInTotal) {
  // One byte every 0.5 s: each read comes well within the 1 s per-read timeout, but the
  // whole request must arrive within --timeout 1 s.
  RawConnection c(server_->port());
  ASSERT_GE(c.fd(), 0);
  const std::string request = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n";
  const auto t0 = Clock::now();
  bool closed = false;
  for (size_t i = 0; i < request.size() && !closed && seconds_since(t0) < 2.8; ++i) {
    if (!c.send(request.substr(i, 1))) break;
    c.read_until_close(500, closed);
  }
  const double cut_s = seconds_since(t0);
  EXPECT_TRUE(closed) << "the server still reads a request trickled for " << cut_s << " s";
  EXPECT_LT(cut_s, 2.0);
  EXPECT_GT(cut_s, 0.9);
  EXPECT_EQ(http_request(server_->port(), "GET", "/health").status, 200);  // still serving
  std::printf("trickling client cut off after %.2f s\n", cut_s);
}

}  // namespace

}  // namespace tinyr2
