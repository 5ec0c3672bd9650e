// `tinyr2 serve` end to end (SPEC §14), a real server process on a free loopback port with a
// small GPT-2-vocabulary model made by `tinyr2 init`:
//   - the official `openai` npm client (tests/serve/openai_client.js): completions and chat,
//     streamed and not, stop strings, seeds, logprobs, and greedy output equal to `tinyr2
//     generate` — also with 8 other requests running;
//   - bad input (tests/serve/bad_input.js): each an OpenAI error object with its status;
//   - the text stream's stop strings and UTF-8 hold-back, the constant-time key compare.
// The node tests need node and the npm packages of scripts/setup ($TINYR2_HOME/npm); without
// node they are skipped.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "serve/http_api.h"
#include "serve/text_stream.h"
#include "server_process.h"
#include "support/cli.h"

namespace tinyr2 {

namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::ServerProcess;

const char* const kKey = "sk-tinyr2-test";

std::string npm_prefix() {
  const char* home = std::getenv("TINYR2_HOME");
  const char* user = std::getenv("HOME");
  const fs::path root =
      home && *home ? fs::path(home) : fs::path(user ? user : "/root") / ".cache" / "tinyr2";
  return (root / "npm").string();
}

bool have_node() {
  return std::system("node --version >/dev/null 2>&1") == 0;
}

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>("serve");
    testing::write_file(*dir_ / "config.json", R"({"ctx_len": 512, "n_embd": 32, "n_head": 2,
      "n_layer": 2, "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 3,
      "moe_hidden": 32, "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8,
      "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8, "block_stride": 4,
      "select_block_size": 8, "num_tokens_to_keep": 24, "window_size": 16, "hc": true,
      "hc_num_streams": 2, "init_std": 0.2})");
    const CliResult r =
        cli(fmt::format("init --config {} --out {} -s 5", *dir_ / "config.json", *dir_ / "model"));
    ASSERT_EQ(r.status, 0) << r.err;
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"-t", "1", "serve", "-m", *dir_ / "model", "--parallel", "6",
                                 "--queue", "16", "--ctx", "64", "--timeout", "1", "--api-key",
                                 kKey},
        *dir_ / "server.log");
    small_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"-t", "1", "serve", "-m", *dir_ / "model", "--parallel", "1",
                                 "--queue", "0", "--api-key", kKey},
        *dir_ / "small.log");
  }
  static void TearDownTestSuite() {
    server_.reset();
    small_.reset();
    dir_.reset();
  }
  static CliResult cli(const std::string& args) { return testing::run_cli(args, *dir_ / "cli"); }
  // What `tinyr2 generate` prints for the prompt (written to a file: it may hold newlines).
  static std::string generate(const std::string& prompt, const std::string& flags) {
    testing::write_file(*dir_ / "prompt.txt", prompt);
    const CliResult r = cli(fmt::format("-t 1 generate -m {} -p \"$(cat {})\" {}", *dir_ / "model",
                                        *dir_ / "prompt.txt", flags));
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
  static std::string node(const std::string& script, const std::string& args) {
    const std::string out = *dir_ / "node.out";
    const int rc = std::system(
        fmt::format("node {}/tests/serve/{} {} >{} 2>&1", TINYR2_SOURCE_DIR, script, args, out)
            .c_str());
    const std::string text = testing::read_file(out);
    std::fputs(text.c_str(), stdout);  // the checks and their times, in the test's log
    return (rc == 0 ? "" : "exit " + std::to_string(rc) + "\n") + text;
  }
  void SetUp() override {
    ASSERT_GT(server_->port(), 0) << testing::read_file(server_->log_file());
    ASSERT_GT(small_->port(), 0) << testing::read_file(small_->log_file());
  }
  void TearDown() override {
    EXPECT_TRUE(server_->running()) << testing::read_file(server_->log_file());
    EXPECT_TRUE(small_->running()) << testing::read_file(small_->log_file());
  }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::unique_ptr<ServerProcess> server_, small_;
};

std::unique_ptr<testing::TempDir> Serve::dir_;
std::unique_ptr<ServerProcess> Serve::server_, Serve::small_;

TEST_F(Serve, OpenAiClientAgreesWithGenerate) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  ASSERT_TRUE(fs::exists(npm_prefix() + "/node_modules/openai/package.json"))
      << "npm openai is not in " << npm_prefix() << ": run scripts/setup";
  const std::string prompt = "def fibonacci(n):", chat_prompt = "user: hello there\nassistant:";
  nlohmann::json c = {
      {"port", server_->port()},
      {"key", kKey},
      {"greedy", {{"prompt", prompt}, {"n", 24}, {"text", generate(prompt, "-n 24 --temp 0")}}},
      {"chat",
       {{"messages", {{{"role", "user"}, {"content", "hello there"}}}},
        {"n", 12},
        {"text", generate(chat_prompt, "-n 12 --temp 0")}}},
      {"sampled",
       {{"prompt", "import os"},
        {"n", 20},
        {"temperature", 0.9},
        {"top_k", 40},
        {"top_p", 0.95},
        {"seed", 7},
        {"text", generate("import os", "-n 20 --temp 0.9 --top-k 40 --top-p 0.95 -s 7")}}}};
  testing::write_file(*dir_ / "case.json",
                      c.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const std::string out = node("openai_client.js", npm_prefix() + " " + (*dir_ / "case.json"));
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("exit", 0), std::string::npos) << out;
  EXPECT_NE(out.find("ok   greedy output is unchanged with 8 other requests running "),
            std::string::npos)
      << out;
}

TEST_F(Serve, BadInputGetsOpenAiErrors) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  const std::string out =
      node("bad_input.js", fmt::format("{} {} 64 {}", server_->port(), kKey, small_->port()));
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("exit", 0), std::string::npos) << out;
  EXPECT_NE(out.find("ok   still serving after all of it "), std::string::npos) << out;
}

// The playground in headless chromium (tests/serve/playground.js); the screenshot goes to
// the test's scratch directory, or to $TINYR2_PLAYGROUND_SHOT when set (docs/ uses it).
TEST_F(Serve, PlaygroundStreamsTheApiTextInChromium) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed";
  ASSERT_TRUE(fs::exists(npm_prefix() + "/node_modules/puppeteer-core/package.json"))
      << "npm puppeteer-core is not in " << npm_prefix() << ": run scripts/setup";
  const char* env = std::getenv("TINYR2_PLAYGROUND_SHOT");
  const std::string shot = env && *env ? env : *dir_ / "serve_playground.png";
  const std::string out =
      node("playground.js", fmt::format("{} {} {} {}", npm_prefix(), server_->port(), kKey, shot));
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  EXPECT_NE(out.find("ok   the page streamed the API's text"), std::string::npos) << out;
  EXPECT_GT(fs::file_size(shot), 1000u);
}

TEST(ServeTextStream, HoldsBackStopPrefixesAndIncompleteUtf8) {
  serve::TextStream s({"\n\n", "END"});
  std::string sent;
  sent += s.push("a\n");  // "\n" may start "\n\n"
  EXPECT_EQ(sent, "a");
  sent += s.push("b E");  // "E" may start "END"
  EXPECT_EQ(sent, "a\nb ");
  sent += s.push("N");
  EXPECT_EQ(sent, "a\nb ");
  sent += s.push("X \xC3");  // "ENX" is no stop; \xC3 starts a 2-byte character
  EXPECT_EQ(sent, "a\nb ENX ");
  sent += s.push("\xA9 fin\n");
  EXPECT_EQ(sent, "a\nb ENX \xC3\xA9 fin");
  sent += s.push("\nafter");  // the stop: nothing from it on
  EXPECT_TRUE(s.stopped());
  sent += s.push("more");
  sent += s.finish();
  EXPECT_EQ(sent, "a\nb ENX \xC3\xA9 fin");
  EXPECT_EQ(s.text(), sent);

  serve::TextStream plain;  // no stops: everything but an incomplete tail goes out at once
  EXPECT_EQ(plain.push("x\xE2\x82"), "x");
  EXPECT_EQ(plain.push("\xAC"), "\xE2\x82\xAC");
  EXPECT_EQ(plain.push("\xFF"), "\xFF");  // invalid bytes pass through
  EXPECT_EQ(plain.finish(), "");
}

TEST(ServeApiKey, ConstantTimeCompareIsEquality) {
  EXPECT_TRUE(serve::constant_time_equal("sk-abc", "sk-abc"));
  EXPECT_FALSE(serve::constant_time_equal("sk-abc", "sk-abd"));
  EXPECT_FALSE(serve::constant_time_equal("sk-abc", "sk-ab"));
  EXPECT_FALSE(serve::constant_time_equal("sk-abc", "sk-abcd"));
  EXPECT_FALSE(serve::constant_time_equal("sk-abc", ""));
  EXPECT_FALSE(serve::constant_time_equal(std::string("a\0b", 3), "a"));
}

}  // namespace

}  // namespace tinyr2
