// Output directories (issue 19, train/run_directory.h): `init` and `train` refuse a non-empty
// --out unless --force, leaving it byte for byte as it was; a writer holds an exclusive flock on
// DIR/.lock, and a second writer gets one line and exit status 1.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/core.h>

#include "support/cli.h"

namespace tinyr2 {

namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

constexpr const char* kModel = R"({"vocab_size": 50257, "ctx_len": 16, "n_embd": 16, "n_head": 2,
  "n_layer": 1, "attention_types": ["FULL"], "types": ["mlp"], "hc": false,
  "train": {"batch_size": 1, "max_iters": 2, "eval_interval": 2, "eval_iters": 1,
            "checkpoint_interval": 2, "val_fraction": 0.2}})";

// Every file under `dir` (relative path → bytes): "unchanged" means this map is equal.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out[fs::relative(e.path(), dir).string()] =
        e.is_regular_file() ? read_file(e.path().string()) : "<dir>";
  return out;
}

class OutputDirs : public ::testing::Test {
 protected:
  TempDir tmp{"output_dirs"};
  CliResult cli(const std::string& args) {
    return testing::run_cli("-t 1 " + args, tmp.path().string());
  }
  void SetUp() override {
    write_file(tmp / "config.json", kModel);
    for (int i = 0; i < 5; ++i)
      write_file(tmp / fmt::format("data/d{}.txt", i),
                 fmt::format("Document {} says hello to the small model again. ", i) +
                     std::string(300, 'a' + i));
  }
  std::string init(const std::string& out, const std::string& extra = "") {
    return fmt::format("init --config {} --out {} {}", tmp / "config.json", out, extra);
  }
  std::string train(const std::string& out, const std::string& extra = "") {
    return fmt::format("train --config {} --data {} --out {} {}", tmp / "config.json", tmp / "data",
                       out, extra);
  }
};

void expect_refusal(const CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

}  // namespace

TEST_F(OutputDirs, InitRefusesANonEmptyOutUnlessForced) {
  const std::string model = tmp / "model";
  ASSERT_EQ(cli(init(model)).status, 0);
  const auto before = snapshot(model);
  expect_refusal(cli(init(model, "-s 5")), "already holds a model; add --force");
  EXPECT_EQ(snapshot(model), before);

  const std::string other = tmp / "other";
  write_file(other + "/notes.txt", "mine");
  expect_refusal(cli(init(other)), "is not empty; add --force");
  EXPECT_EQ(read_file(other + "/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(other + "/config.json"));

  ASSERT_EQ(cli(init(model, "-s 5 --force")).status, 0);  // replaced: other weights
  EXPECT_NE(read_file(model + "/model.safetensors"), before.at("model.safetensors"));
  EXPECT_FALSE(fs::exists(model + "/.lock"));  // the lock goes with its writer
}

TEST_F(OutputDirs, ConvertRefusesANonEmptyOutUnlessForced) {
  const std::string model = tmp / "conv_src", run = tmp / "conv_run";
  ASSERT_EQ(cli(init(model)).status, 0);
  write_file(run + "/config.json", "{\"the\": \"run's own config\"}");
  expect_refusal(cli(fmt::format("convert -m {} --dtype bf16 --out {}", model, run)),
                 "add --force");
  EXPECT_EQ(read_file(run + "/config.json"), "{\"the\": \"run's own config\"}");
  ASSERT_EQ(cli(fmt::format("convert -m {} --dtype bf16 --out {} --force", model, run)).status, 0);
  EXPECT_EQ(read_file(run + "/config.json"), read_file(model + "/config.json"));
  EXPECT_LT(fs::file_size(run + "/model.safetensors"), fs::file_size(model + "/model.safetensors"));
}

TEST_F(OutputDirs, TrainRefusesAModelDirectoryAndAFileAsOut) {
  const std::string model = tmp / "model";
  ASSERT_EQ(cli(init(model)).status, 0);
  const auto before = snapshot(model);
  expect_refusal(cli(train(model)), "already holds a model");
  EXPECT_EQ(snapshot(model), before);  // config.json not overwritten (issue 19, point 2)

  write_file(tmp / "afile", "x");
  expect_refusal(cli(train(tmp / "afile")), "exists and is not a directory");
  EXPECT_EQ(read_file(tmp / "afile"), "x");
}

TEST_F(OutputDirs, ASecondWriterGetsOneLine) {
  const std::string dir = tmp / "busy";
  fs::create_directories(dir);
  write_file(dir + "/latest", "step-00000002\n");
  write_file(dir + "/config.json", kModel);
  const auto before = snapshot(dir);
  // This test process plays the live writer: it holds the lock as `train` does.
  const int fd = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  expect_refusal(cli(train(dir, "--force")), "another tinyr2 process is writing");
  expect_refusal(cli(fmt::format("train --out {} --resume", dir)),
                 "another tinyr2 process is writing");
  expect_refusal(cli(init(dir, "--force")), "another tinyr2 process is writing");
  ::close(fd);
  EXPECT_EQ(snapshot(dir).erase(".lock"), 1u);
  auto after = snapshot(dir);
  after.erase(".lock");
  auto expected = before;
  expected.erase(".lock");
  EXPECT_EQ(after, expected);
}

TEST_F(OutputDirs, AFailedCommandLeavesNoNewDirectory) {
  write_file(tmp / "bad.json", R"({"n_embd": 30, "n_head": 4})");
  const std::string out = tmp / "never";
  expect_refusal(cli(fmt::format("init --config {} --out {}", tmp / "bad.json", out)),
                 "must divide");
  expect_refusal(cli(fmt::format("train --config {} --data {} --out {}", tmp / "config.json",
                                 tmp / "no-such-data", out)),
                 "not found");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace tinyr2
