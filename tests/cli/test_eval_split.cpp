// `tinyr2 eval --split train|val` (src/train/eval_split.h): a model scored on its training
// run's own split. The reference is the run itself: the losses `train` logged in metrics.jsonl
// (float32 precision), which the eval must reproduce exactly by default (same documents, same
// windows, same model, same thread count); train's own "data:" line gives the val documents.
// The corpus mixes *.py and *.txt files and the run used --glob "*.py", so a split computed
// without the run's glob would differ (and does: the fingerprint check refuses it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "support/cli.h"

namespace tinyr2 {

namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::lines_of;
using testing::read_file;
using testing::write_file;

constexpr const char* kConfig = R"({"vocab_size": 50257, "ctx_len": 16, "n_embd": 16,
  "n_head": 2, "n_layer": 1, "attention_types": ["FULL"], "types": ["mlp"], "hc": false,
  "train": {"batch_size": 2, "max_iters": 6, "warmup_iters": 1, "eval_interval": 3,
            "eval_iters": 3, "checkpoint_interval": 3, "val_fraction": 0.3, "lr": 3e-3,
            "seed": 7}})";

struct Eval {
  int64_t step = 0;
  float train_loss = 0, val_loss = 0;
};

// `files` small files of pseudo-random code-like words, DIR/modNNN.py (deterministic).
void write_corpus(const std::string& dir, int files, int lines, uint64_t seed) {
  static const char* kWords[] = {"def",   "return", "self", "value", "index", "for",
                                 "in",    "range",  "if",   "else",  "print", "list",
                                 "items", "count",  "name", "while", "None",  "import"};
  Rng rng(seed);
  for (int f = 0; f < files; ++f) {
    std::string text;
    for (int l = 0; l < lines; ++l) {
      for (int w = 0, n = 3 + static_cast<int>(rng.next_below(5)); w < n; ++w)
        text += std::string(kWords[rng.next_below(18)]) + (w + 1 < n ? " " : "");
      text += l % 4 == 3 ? ":\n" : "\n";
    }
    write_file(fmt::format("{}/mod{:03d}.py", dir, f), text);
  }
}

class EvalSplit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir("eval_split");
    write_corpus(*tmp_ / "corpus", 16, 12, 99);
    write_corpus(*tmp_ / "corpus/notes", 6, 12, 7);  // *.py too, in a subdirectory
    for (int i = 0; i < 5; ++i)                      // not *.py: outside the run's glob
      write_file(*tmp_ / fmt::format("corpus/readme{}.txt", i), "plain text, not code\n");
    write_file(*tmp_ / "config.json", kConfig);
    train_ = new CliResult(cli(fmt::format("train --config {} --data {} --glob '*.py' --out {}",
                                           *tmp_ / "config.json", *tmp_ / "corpus", run())));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete tmp_;
  }
  static CliResult cli(const std::string& args) {
    return testing::run_cli("-t 2 " + args, tmp_->path().string());
  }
  static std::string run() { return *tmp_ / "run"; }

  // The eval lines of metrics.jsonl.
  static std::vector<Eval> evals() {
    std::vector<Eval> out;
    for (const std::string& line : lines_of(read_file(run() + "/metrics.jsonl"))) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.at("type") == "eval")
        out.push_back({j.at("step").get<int64_t>(), j.at("train_loss").get<float>(),
                       j.at("val_loss").get<float>()});
    }
    return out;
  }
  static Eval best() {
    const std::vector<Eval> e = evals();
    return *std::min_element(e.begin(), e.end(),
                             [](const Eval& a, const Eval& b) { return a.val_loss < b.val_loss; });
  }

  static testing::TempDir* tmp_;
  static CliResult* train_;
};

testing::TempDir* EvalSplit::tmp_ = nullptr;
CliResult* EvalSplit::train_ = nullptr;

// "eval: val loss 3.1234567890123456" → the number as float32, metrics.jsonl's precision (NaN
// when absent).
float full_loss(const CliResult& r, const std::string& split) {
  const std::string key = "eval: " + split + " loss ";
  const size_t at = r.out.find(key);
  return at == std::string::npos
             ? NAN
             : static_cast<float>(std::strtod(r.out.c_str() + at + key.size(), nullptr));
}

// "loss 3.1234 |" of the summary line.
double short_loss(const CliResult& r) {
  const size_t at = r.out.find("| loss ");
  return at == std::string::npos ? NAN : std::strtod(r.out.c_str() + at + 7, nullptr);
}

void expect_one_line_error(const CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected \"" << needle << "\" in " << r.err;
}

}  // namespace

TEST_F(EvalSplit, ReproducesTheRunsOwnValAndTrainLossExactly) {
  ASSERT_EQ(train_->status, 0) << train_->out << train_->err;
  ASSERT_EQ(evals().size(), 2u);
  const Eval b = best();
  // best/ is the model of the lowest logged val loss: the default batches are the run's own.
  CliResult r = cli(fmt::format("eval -m {}/best --split val", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(full_loss(r, "val"), b.val_loss) << r.out;
  r = cli(fmt::format("eval -m {}/best --split train", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(full_loss(r, "train"), b.train_loss) << r.out;
  // The last checkpoint is the model of the last eval (its run directory two levels up).
  r = cli(fmt::format("eval -m {}/checkpoints/step-00000006 --split val", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(full_loss(r, "val"), evals().back().val_loss) << r.out;
}

TEST_F(EvalSplit, FindsTheSameValDocumentsAndScoresAWholePass) {
  ASSERT_EQ(train_->status, 0) << train_->err;
  // train's own count: "data: N documents (A train, B val) from F files; ..."
  const size_t at = train_->out.find(" train, ");
  ASSERT_NE(at, std::string::npos) << train_->out;
  const int64_t val_docs = std::strtoll(train_->out.c_str() + at + 8, nullptr, 10);
  ASSERT_GT(val_docs, 0);
  const CliResult r = cli(fmt::format("eval -m {}/best --split val --batches 0", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(fmt::format("val split of run {}: {} documents", run(), val_docs)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("all of one pass"), std::string::npos) << r.out;
  // Other windows of the same split: the same loss up to the eval's sampling.
  const double loss = short_loss(r);
  EXPECT_NEAR(loss, best().val_loss, 0.15 * best().val_loss) << r.out;
}

TEST_F(EvalSplit, AModelOutsideTheRunNeedsRunAndAGgufScoresTheSame) {
  ASSERT_EQ(train_->status, 0) << train_->err;
  fs::create_directories(*tmp_ / "elsewhere");
  fs::copy(run() + "/best", *tmp_ / "elsewhere/model");
  expect_one_line_error(cli(fmt::format("eval -m {} --split val", *tmp_ / "elsewhere/model")),
                        "--run");
  CliResult r =
      cli(fmt::format("eval -m {} --split val --run {}", *tmp_ / "elsewhere/model", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(full_loss(r, "val"), best().val_loss) << r.out;
  // An f32 GGUF of best/ is the same model: the same loss, bit for bit.
  r = cli(fmt::format("quantize -m {}/best --type f32 --out {}", run(), *tmp_ / "best.gguf"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = cli(fmt::format("eval -m {} --split val --run {}", *tmp_ / "best.gguf", run()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(full_loss(r, "val"), best().val_loss) << r.out;
}

TEST_F(EvalSplit, ADifferentSplitOrMissingPiecesAreOneLineErrors) {
  ASSERT_EQ(train_->status, 0) << train_->err;
  // Without the run's glob the documents differ: refused, not silently another split.
  expect_one_line_error(cli(fmt::format("eval -m {}/best --split val --glob '*'", run())),
                        "are not those run");
  expect_one_line_error(cli(fmt::format("eval -m {}/best --split test", run())), "not a split");
  expect_one_line_error(cli(fmt::format("eval -m {}/best", run())), "--data");
  expect_one_line_error(
      cli(fmt::format("eval -m {}/best --split val --run {}", run(), *tmp_ / "corpus")),
      "not a training run directory");
  expect_one_line_error(
      cli(fmt::format("eval -m {}/best --split val --data {}", run(), *tmp_ / "nope")),
      "data path not found");
}

}  // namespace tinyr2
