// `tinyr2 generate` end to end (SPEC §5): greedy output is the same with and without the cache,
// a seed reproduces a sampled run, the report goes to stderr, and bad input exits 1 (usage 2).
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/core.h>

#include "support/cli.h"

namespace tinyr2 {

namespace {

namespace fs = std::filesystem;

using Result = tinyr2::testing::CliResult;

fs::path scratch() {
  const fs::path d = fs::temp_directory_path() / fmt::format("tinyr2_generate_cli_{}", ::getpid());
  fs::create_directories(d);
  return d;
}

Result run(const std::string& args) {
  return tinyr2::testing::run_cli(args, scratch().string());
}

// A small GPT-2-vocabulary model (FULL + Sparse, ctx_len 64) written by `tinyr2 init`.
const fs::path& model_dir() {
  static const fs::path dir = [] {
    const fs::path d = scratch() / "model";
    fs::remove_all(d);
    std::ofstream(scratch() / "config.json")
        << R"({"ctx_len": 64, "n_embd": 32, "n_head": 2, "n_layer": 2,
      "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 3, "moe_hidden": 32,
      "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8,
      "block_size": 8, "block_stride": 4, "select_block_size": 8, "num_tokens_to_keep": 24,
      "window_size": 16, "hc": true, "hc_num_streams": 2, "init_std": 0.2})";
    const Result r = run(fmt::format("init --config {} --out {} -s 3",
                                     (scratch() / "config.json").string(), d.string()));
    EXPECT_EQ(r.status, 0) << r.err;
    return d;
  }();
  return dir;
}

TEST(GenerateCli, IsListedInTheRootHelp) {
  const Result r = run("--help");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  generate "), std::string::npos) << r.out;
}

TEST(GenerateCli, CachedAndUncachedGreedyOutputsAreIdentical) {
  const std::string base =
      fmt::format("generate -m {} -p \"def fibonacci(n):\" -n 100 --temp 0", model_dir().string());
  const Result cached = run(base);
  const Result full = run(base + " --no-cache");
  ASSERT_EQ(cached.status, 0) << cached.err;
  ASSERT_EQ(full.status, 0) << full.err;
  EXPECT_FALSE(cached.out.empty());
  EXPECT_EQ(cached.out, full.out);
  for (const char* needle : {"prefill:", "decode:", "tokens/s", "cache:", "context: cut"})
    EXPECT_NE(cached.err.find(needle), std::string::npos)
        << needle << " missing from: " << cached.err;
  EXPECT_NE(full.err.find("no cache"), std::string::npos) << full.err;
}

TEST(GenerateCli, ASeedReproducesASampledRun) {
  const std::string base = fmt::format(
      "generate -m {} -p \"Hello\" -n 30 --temp 1.2 --top-k 50 --top-p 0.9", model_dir().string());
  const Result a = run(base + " -s 11"), b = run(base + " -s 11"), c = run(base + " -s 12");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_NE(a.err.find("seed 11"), std::string::npos) << a.err;
}

TEST(GenerateCli, BadInputExitsWithOneLine) {
  const std::string m = model_dir().string();
  const std::vector<std::pair<std::string, std::string>> user_errors = {
      {fmt::format("generate -m {} -p hi", (scratch() / "missing").string()),
       "not a model directory"},
      {fmt::format("generate -m {} -p \"\"", m), "prompt"},
      {fmt::format("generate -m {} -p hi --temp -1", m), "--temp"},
      {fmt::format("generate -m {} -p hi --top-p 1.5", m), "--top-p"},
      {fmt::format("generate -m {} -p hi -n -2", m), "-n"},
      {fmt::format("generate -m {} -p hi -s -7", m), "-s"},
  };
  for (const auto& [args, needle] : user_errors) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_EQ(run(fmt::format("generate -m {} -p hi --bogus", m)).status, 2);
  EXPECT_EQ(run("generate -p hi").status, 2);
  EXPECT_EQ(run(fmt::format("generate -m {} -p hi --temp warm", m)).status, 2);
}

}  // namespace

}  // namespace tinyr2
