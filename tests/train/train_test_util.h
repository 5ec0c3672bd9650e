// Helpers of the training tests: scratch directories, a small synthetic text corpus, the
// small model config they train, and running the `tinyr2` binary (TINYR2_CLI) as a child
// process.
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "support/cli.h"

namespace tinyr2::train::testing {

namespace fs = std::filesystem;

using tinyr2::testing::lines_of;
using tinyr2::testing::read_file;
using tinyr2::testing::run_cli;
using tinyr2::testing::write_file;
using RunResult = tinyr2::testing::CliResult;

// A fresh directory $TMPDIR/tinyr2_train_<name>_<pid>, removed at the end of the test.
class TempDir : public tinyr2::testing::TempDir {
 public:
  explicit TempDir(const std::string& name) : tinyr2::testing::TempDir("train_" + name) {}
};

// `files` small Python-like text files of pseudo-random words under dir (deterministic).
inline void write_corpus(const std::string& dir, int files, int lines_per_file = 40) {
  static const char* kWords[] = {"def",   "return", "self",  "value", "index",  "for",
                                 "in",    "range",  "if",    "else",  "print",  "list",
                                 "items", "count",  "total", "name",  "while",  "break",
                                 "None",  "True",   "data",  "key",   "import", "class"};
  Rng rng(99);
  for (int f = 0; f < files; ++f) {
    std::string text;
    for (int l = 0; l < lines_per_file; ++l) {
      const int n = 3 + static_cast<int>(rng.next_below(6));
      text += std::string(static_cast<size_t>(4 * rng.next_below(3)), ' ');
      for (int w = 0; w < n; ++w)
        text += std::string(kWords[rng.next_below(24)]) + (w + 1 < n ? " " : "");
      text += l % 5 == 4 ? ":\n" : "\n";
    }
    write_file(fmt::format("{}/mod{:03d}.py", dir, f), text);
  }
}

// The fixture of a suite of CLI training tests (Suite: the fixture itself, so that every
// suite has its own directory): one scratch directory for all its tests, which the suite's
// SetUpTestSuite opens with open_scratch() and which goes after its last test.
template <typename Suite>
class TrainCliSuite : public ::testing::Test {
 protected:
  // $TMPDIR/tinyr2_train_<name>_<pid> with corpus/ (write_corpus of `corpus_files` files) and
  // config.json (`config`).
  static void open_scratch(const std::string& name, int corpus_files, const std::string& config) {
    tmp_ = std::make_unique<TempDir>(name);
    write_corpus(*tmp_ / "corpus", corpus_files);
    write_file(*tmp_ / "config.json", config);
  }
  static void TearDownTestSuite() { tmp_.reset(); }
  static std::string path(const std::string& rel) { return *tmp_ / rel; }
  // `tinyr2 -t 2 ARGS` (env: VAR=value assignments, or ""), its output files in the scratch dir.
  static RunResult cli(const std::string& args, const std::string& env = "") {
    return run_cli("-t 2 " + args, tmp_->path().string(), env);
  }
  // The arguments of `train` on the suite's config and corpus into OUT.
  static std::string train_args(const std::string& out, const std::string& extra = "") {
    return fmt::format("train --config {} --data {} --out {} {}", path("config.json"),
                       path("corpus"), path(out), extra);
  }

 private:
  static inline std::unique_ptr<TempDir> tmp_;
};

// The lines of RUN/metrics.jsonl with the timing fields (from ,"ms": on: ms, tokens_per_s)
// cut off: everything else of two runs that must agree bit for bit matches as text.
inline std::vector<std::string> deterministic_metrics(const std::string& run) {
  std::vector<std::string> out;
  for (std::string line : lines_of(read_file(run + "/metrics.jsonl"))) {
    const size_t ms = line.find(",\"ms\":");
    if (ms != std::string::npos) line = line.substr(0, ms);
    out.push_back(line);
  }
  return out;
}

// Exit status 1 and one line on stderr that contains `needle` (SPEC §5 errors).
inline void expect_one_line_error(const RunResult& r, const std::string& needle,
                                  const std::string& what) {
  EXPECT_EQ(r.status, 1) << what << "\nstdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1)
      << what << ": one line expected, got: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos)
      << what << ": expected \"" << needle << "\" in: " << r.err;
}

// The small model the CLI training tests train (SPEC §2: FULL and Sparse attention, an MLP and
// a MoE layer, the GPT-2 vocabulary, ctx_len 32), as config.json text: `model` (JSON object
// text) merged over its keys, `train` (JSON object text) as its train section (SPEC §4).
inline std::string small_train_config(const std::string& train, const std::string& model = "{}") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "vocab_size": 50257, "ctx_len": 32, "n_embd": 32, "n_head": 2, "n_layer": 2,
    "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 4,
    "num_exp": 2, "moe_hidden": 32, "q_lora_rank": 16, "kv_lora_rank": 8,
    "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8,
    "block_stride": 8, "compress_hidden": 16, "select_block_size": 8, "num_tokens_to_keep": 16,
    "select_init_blocks": 1, "select_local_blocks": 1, "window_size": 8, "hc_num_streams": 2})");
  j.update(nlohmann::json::parse(model));
  j["train"] = nlohmann::json::parse(train);
  return j.dump(2);
}

}  // namespace tinyr2::train::testing
