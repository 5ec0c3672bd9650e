// `tinyr2 serve --lora DIR` (SPEC §12, §14): the server applies a LoRA adapter the way
// `tinyr2 generate --lora DIR` does — greedy completions equal generate's text with the adapter,
// and differ from the base model's where the adapter changed the logits — and an adapter made
// for another base stops the server with one line, exit 1.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "raw_http.h"
#include "server_process.h"
#include "support/cli.h"

namespace tinyr2 {

namespace {

using testing::CliResult;
using testing::ServerProcess;

constexpr const char* kConfig = R"({"ctx_len": 64, "n_embd": 32, "n_head": 2, "n_layer": 2,
  "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 3,
  "moe_hidden": 32, "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8,
  "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8, "block_stride": 4,
  "select_block_size": 8, "num_tokens_to_keep": 24, "window_size": 16, "hc": true,
  "hc_num_streams": 2, "init_std": 0.2,
  "train": {"batch_size": 2, "max_iters": 4, "warmup_iters": 1, "eval_interval": 4,
            "eval_iters": 1, "checkpoint_interval": 4, "val_fraction": 0.2, "lr": 5e-2}})";

class ServeLora : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>("serve_lora");
    testing::write_file(*dir_ / "config.json", kConfig);
    for (int i = 0; i < 6; ++i)
      testing::write_file(*dir_ / fmt::format("corpus/f{}.py", i),
                          fmt::format("def f{0}(x):\n    return x * {0} + {1}\n\n", i, 7 * i) +
                              std::string(40, 'a' + static_cast<char>(i)) + "\n");
    for (const auto& [name, seed] : {std::pair{"base", 5}, std::pair{"other", 6}}) {
      const CliResult r = cli(fmt::format("init --config {} --out {} -s {}", *dir_ / "config.json",
                                          *dir_ / name, seed));
      ASSERT_EQ(r.status, 0) << r.err;
    }
    const CliResult r = cli(fmt::format(
        "-t 1 train --config {} --data {} --out {} --init-from {} --lora-rank 4 --lora-alpha 8",
        *dir_ / "config.json", *dir_ / "corpus", *dir_ / "run", *dir_ / "base"));
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static CliResult cli(const std::string& args) { return testing::run_cli(args, *dir_ / "cli"); }
  static std::string generate(const std::string& extra) {
    const CliResult r = cli(
        fmt::format("-t 1 generate -m {} -p \"def f(\" -n 16 --temp 0 {}", *dir_ / "base", extra));
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
  static std::string completion(int port) {
    const auto res =
        testing::http_request(port, "POST", "/v1/completions",
                              R"({"prompt": "def f(", "max_tokens": 16, "temperature": 0})");
    EXPECT_EQ(res.status, 200) << res.body;
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (j.is_discarded() || !j.contains("choices")) return "<bad response: " + res.body + ">";
    return j["choices"][0]["text"].get<std::string>();
  }
  static std::unique_ptr<testing::TempDir> dir_;
};

std::unique_ptr<testing::TempDir> ServeLora::dir_;

TEST_F(ServeLora, GreedyCompletionEqualsGenerateWithTheAdapter) {
  const std::string adapter = *dir_ / "run/best";
  const std::string with = generate("--lora " + adapter), without = generate("");
  ServerProcess server(
      {"-t", "1", "serve", "-m", *dir_ / "base", "--lora", adapter, "--parallel", "2"},
      *dir_ / "server.log");
  ASSERT_GT(server.port(), 0) << testing::read_file(server.log_file());
  EXPECT_EQ(completion(server.port()), with);
  // The adapter moved the model (lr 5e-2, 4 steps): its greedy text is not the base's, so the
  // equality above is not one the base model alone would pass.
  EXPECT_NE(with, without);
}

TEST_F(ServeLora, AnAdapterOfAnotherBaseStopsTheServerWithOneLine) {
  const CliResult r =
      cli(fmt::format("-t 1 serve -m {} --lora {} --port 0", *dir_ / "other", *dir_ / "run/best"));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("sha256"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("tinyr2 serve: ready"), std::string::npos) << r.err;
}

}  // namespace

}  // namespace tinyr2
