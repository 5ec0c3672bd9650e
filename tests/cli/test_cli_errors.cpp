// The command line on bad input: malformed configs and safetensors files give exit status
// 1 with one line on stderr; usage mistakes give 2 (SPEC §5).
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
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
  const fs::path d = fs::temp_directory_path() / fmt::format("tinyr2_cli_errors_{}", ::getpid());
  fs::create_directories(d);
  return d;
}

Result run(const std::string& args) {
  return tinyr2::testing::run_cli(args, scratch().string());
}

void expect_user_error(const std::string& args, const std::string& needle) {
  const Result r = run(args);
  EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line expected: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << args << " said: " << r.err;
}

void write(const fs::path& p, const std::string& text) {
  tinyr2::testing::write_file(p.string(), text);
}

std::string read(const fs::path& p) {
  return tinyr2::testing::read_file(p.string());
}

// A valid small model directory to corrupt.
fs::path make_model() {
  const fs::path dir = scratch() / "model";
  fs::remove_all(dir);
  write(scratch() / "ok.json", R"({"vocab_size": 50, "n_embd": 16, "n_head": 2, "n_layer": 1,
                                   "attention_types": ["FULL"], "types": ["mlp"], "hc": false})");
  EXPECT_EQ(
      run(fmt::format("init --config {} --out {}", (scratch() / "ok.json").string(), dir.string()))
          .status,
      0);
  return dir;
}

// Copies the model with model.safetensors replaced by `bytes`.
fs::path corrupt(const fs::path& model, const std::string& name, const std::string& bytes) {
  const fs::path dir = scratch() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(model / "config.json", dir / "config.json");
  write(dir / "model.safetensors", bytes);
  return dir;
}

std::string with_header(const std::string& json, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  return out + json + std::string(data_bytes, '\0');
}

}  // namespace

TEST(CliErrors, MalformedConfigs) {
  const fs::path d = scratch();
  write(d / "bad_json.json", "{\"n_embd\": 32,");
  expect_user_error(
      fmt::format("init --config {} --out {}", (d / "bad_json.json").string(), (d / "x").string()),
      "invalid JSON");
  write(d / "unknown.json", R"({"n_embed": 32})");
  expect_user_error(
      fmt::format("init --config {} --out {}", (d / "unknown.json").string(), (d / "x").string()),
      "unknown key \"n_embed\"");
  write(d / "divide.json", R"({"n_embd": 30, "n_head": 4})");
  expect_user_error(
      fmt::format("init --config {} --out {}", (d / "divide.json").string(), (d / "x").string()),
      "\"n_head\" = 4 must divide n_embd = 30");
  write(d / "fracs.json", R"({"hc_num_fracs": 2})");
  expect_user_error(
      fmt::format("init --config {} --out {}", (d / "fracs.json").string(), (d / "x").string()),
      "hc_num_fracs");
  expect_user_error(
      fmt::format("init --config {} --out {}", (d / "missing.json").string(), (d / "x").string()),
      "cannot open config file");
}

TEST(CliErrors, MalformedSafetensors) {
  const fs::path model = make_model();
  const std::string good = read(model / "model.safetensors");
  ASSERT_GT(good.size(), 100u);
  auto logits = [](const fs::path& dir) {
    return fmt::format("logits -m {} --ids 1,2 --out /dev/null", dir.string());
  };
  expect_user_error(logits(corrupt(model, "truncated", good.substr(0, good.size() - 7))),
                    "run past the");
  expect_user_error(logits(corrupt(model, "tiny", good.substr(0, 5))),
                    "shorter than the 8-byte header");
  {
    std::string s = good;
    const uint64_t huge = 1ull << 40;
    std::memcpy(s.data(), &huge, 8);
    expect_user_error(logits(corrupt(model, "header_too_long", s)), "exceeds the limit");
  }
  expect_user_error(logits(corrupt(model, "bad_json", with_header("{\"a\":", 0))),
                    "safetensors header: invalid JSON");
  expect_user_error(
      logits(corrupt(model, "overlap",
                     with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 12))),
      "overlap");
  expect_user_error(
      logits(corrupt(model, "outside",
                     with_header(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8))),
      "run past");
  expect_user_error(
      logits(corrupt(model, "byte_count",
                     with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8))),
      "expected 12");
  // A well-formed file that lacks the model's tensors.
  expect_user_error(
      logits(corrupt(model, "wrong_tensors",
                     with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8))),
      "unexpected tensor \"a\"");
  expect_user_error(
      fmt::format("logits -m {} --ids 1,2 --out /dev/null", (scratch() / "nope").string()),
      "not a model directory");
  expect_user_error(fmt::format("logits -m {} --ids 1,999 --out /dev/null", model.string()),
                    "token id 999 is outside the vocabulary");
}

TEST(CliErrors, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("init --out /tmp/x").status, 2);  // --config missing
  EXPECT_EQ(run("no-such-command").status, 2);
  EXPECT_EQ(run("--help").status, 0);
}

}  // namespace tinyr2
