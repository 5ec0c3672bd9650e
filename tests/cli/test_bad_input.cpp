// The command line against hostile but fair input (issue 19): every case the issue lists, and
// a seeded random-mutation sweep of configs, model files and checkpoints. Each command must
// end with exit status 0 or 1 — never a signal, never past a time bound — and on 1 say one
// line on stderr of bounded length; a failed command changes no existing file. Output
// directories and their lock are in test_output_dirs.cpp.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <fmt/core.h>

#include "support/cli.h"

namespace tinyr2 {

namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

struct Outcome {
  int status = -1;  // exit status; -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

// `tinyr2 ARGS` under `timeout`: a hang past `seconds` shows as SIGKILL. `prefix` runs in the
// same shell first (e.g. "ulimit -f 40;").
Outcome run(const TempDir& tmp, const std::string& args, int seconds = 60,
            const std::string& prefix = "") {
  const std::string out = tmp / "run.out", err = tmp / "run.err";
  const std::string cmd = fmt::format("{} timeout -s KILL {} {} -t 1 {} >{} 2>{}", prefix, seconds,
                                      TINYR2_CLI, args, out, err);
  const int raw = std::system(cmd.c_str());
  Outcome o;
  if (WIFEXITED(raw)) {
    o.status = WEXITSTATUS(raw);
    if (o.status > 128) o.signal = o.status - 128, o.status = -1;
  } else if (WIFSIGNALED(raw)) {
    o.signal = WTERMSIG(raw);
  }
  o.out = read_file(out);
  o.err = read_file(err);
  return o;
}

std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    files[fs::relative(e.path(), dir).string()] =
        e.is_regular_file() ? read_file(e.path().string()) : "<dir>";
  return files;
}

// Exit 1 with one line (≤ 600 bytes) that contains `needle`.
void expect_one_line(const Outcome& o, const std::string& needle, const std::string& what) {
  EXPECT_EQ(o.signal, 0) << what << ": killed by signal " << o.signal;
  EXPECT_EQ(o.status, 1) << what << ": " << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << what << ": " << o.err;
  EXPECT_LE(o.err.size(), 600u) << what << ": " << o.err.substr(0, 600);
  EXPECT_NE(o.err.find(needle), std::string::npos) << what << ": " << o.err.substr(0, 600);
  EXPECT_EQ(o.err.find("internal error"), std::string::npos) << what << ": " << o.err;
}

// Exit 0, or exit 1 with one bounded line; never a signal.
void expect_clean(const Outcome& o, const std::string& what) {
  EXPECT_EQ(o.signal, 0) << what << ": killed by signal " << o.signal;
  EXPECT_TRUE(o.status == 0 || o.status == 1) << what << ": status " << o.status << " " << o.err;
  if (o.status == 1) {
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << what << ": " << o.err;
    EXPECT_LE(o.err.size(), 600u) << what;
    EXPECT_EQ(o.err.find("internal error"), std::string::npos) << what << ": " << o.err;
  }
}

constexpr const char* kConfig = R"({"vocab_size": 50257, "ctx_len": 16, "n_embd": 16, "n_head": 2,
  "n_layer": 1, "attention_types": ["FULL"], "types": ["mlp"], "hc": false,
  "train": {"batch_size": 1, "max_iters": 2, "eval_interval": 2, "eval_iters": 1,
            "checkpoint_interval": 2, "val_fraction": 0.2}})";

std::string deep(size_t n) {
  return std::string(n, '[') + std::string(n, ']');
}

// A safetensors file of one header and no data.
std::string safetensors_with_header(const std::string& header) {
  std::string s(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(s.data(), &n, 8);
  return s + header;
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const char* const kTokens[] = {
      "[[[[[[[[[[", "\"", "99999999999999999999", "-1", "1e999", "null", "{", "}", ",",
      "\xff",       "0"};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:
        if (at < s.size()) s[at] = static_cast<char>(rng());
        break;
      case 1:
        s.insert(at, kTokens[rng() % std::size(kTokens)]);
        break;
      case 2:
        if (at < s.size()) s.erase(at, 1 + rng() % 8);
        break;
      case 3:
        s.resize(at);
        break;
      default:
        if (at < s.size()) s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
    }
  }
  return s;
}

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir("bad_input");
    write_file(*tmp_ / "config.json", kConfig);
    for (int i = 0; i < 5; ++i)
      write_file(*tmp_ / fmt::format("data/d{}.txt", i),
                 fmt::format("Document {} talks about hardening a small engine. ", i) +
                     std::string(400, static_cast<char>('a' + i)));
    const Outcome init = run(
        *tmp_, fmt::format("init --config {} --out {}", *tmp_ / "config.json", *tmp_ / "model"));
    ASSERT_EQ(init.status, 0) << init.err;
    const Outcome train =
        run(*tmp_, fmt::format("train --config {} --data {} --out {}", *tmp_ / "config.json",
                               *tmp_ / "data", *tmp_ / "run"));
    ASSERT_EQ(train.status, 0) << train.err;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static std::string path(const std::string& rel) { return *tmp_ / rel; }
  static Outcome cli(const std::string& args, int seconds = 60, const std::string& prefix = "") {
    return run(*tmp_, args, seconds, prefix);
  }
  static std::string init_with(const std::string& config_text, const std::string& name) {
    write_file(path(name + ".json"), config_text);
    fs::remove_all(path(name + "_out"));
    return fmt::format("init --config {} --out {}", path(name + ".json"), path(name + "_out"));
  }
  // A copy of the model directory with one file replaced.
  static std::string model_with(const std::string& file, const std::string& bytes,
                                const std::string& name) {
    const std::string dir = path(name);
    fs::remove_all(dir);
    fs::copy(path("model"), dir);
    write_file(dir + "/" + file, bytes);
    return dir;
  }
  // A copy of the run directory with one file of its checkpoint replaced.
  static std::string run_with(const std::string& file, const std::string& bytes,
                              const std::string& name) {
    const std::string dir = path(name);
    fs::remove_all(dir);
    fs::copy(path("run"), dir, fs::copy_options::recursive);
    write_file(dir + "/checkpoints/step-00000002/" + file, bytes);
    return dir;
  }
  static TempDir* tmp_;
};

TempDir* BadInput::tmp_ = nullptr;

}  // namespace

// Issue 19, point 1: 100 000 levels of nesting wherever JSON is read.
TEST_F(BadInput, DeepNestingIsOneLineEverywhere) {
  const std::string d = deep(100000);
  expect_one_line(cli(init_with("{\"n_embd\":" + d + "}", "deep")), "nested deeper than 64",
                  "config");
  const std::string m =
      model_with("model.safetensors", safetensors_with_header("{\"a\":" + d + "}"), "deep_model");
  expect_one_line(cli(fmt::format("info -m {}", m)), "nested deeper than", "safetensors header");
  const std::string r1 = run_with("config.json", "{\"n_embd\":" + d + "}", "deep_run1");
  const auto before1 = snapshot(r1);
  expect_one_line(cli(fmt::format("train --out {} --resume --data {}", r1, path("data"))),
                  "nested deeper than", "checkpoint config.json");
  EXPECT_EQ(snapshot(r1), before1);
  const std::string r2 = run_with("trainer_state.json", "{\"step\":" + d + "}", "deep_run2");
  const auto before2 = snapshot(r2);
  expect_one_line(cli(fmt::format("train --out {} --resume --data {}", r2, path("data"))),
                  "nested deeper than", "trainer_state.json");
  EXPECT_EQ(snapshot(r2), before2);
  write_file(
      path("run_deep_train.json"),
      std::string(kConfig).substr(0, std::string(kConfig).size() - 1) + ", \"x\": " + d + "}");
  expect_one_line(cli(fmt::format("train --config {} --data {} --out {}",
                                  path("run_deep_train.json"), path("data"), path("never1"))),
                  "nested deeper than", "train config");
  expect_one_line(cli(fmt::format("train --config {} --data {} --out {} --set 'n_embd={}'",
                                  path("config.json"), path("data"), path("never2"), deep(5000))),
                  "must be an integer", "--set value");
  EXPECT_FALSE(fs::exists(path("never1")));
  EXPECT_FALSE(fs::exists(path("never2")));
}

// Points 4 and 6: huge values are refused fast and never echoed; duplicate keys and trailing
// bytes are errors.
TEST_F(BadInput, HugeValuesDuplicatesAndTrailingBytes) {
  expect_one_line(cli(init_with("{\"n_embd\": \"" + std::string(17 << 20, 'a') + "\"}", "big"), 20),
                  "exceed the limit", "a 17 MB string");
  expect_one_line(cli(init_with("{\"n_embd\": \"" + std::string(1 << 20, 'a') + "\"}", "long"), 20),
                  "must be an integer", "a 1 MB string");
  std::string array = "{\"n_embd\": [";
  for (int i = 0; i < 2000000; ++i) array += "0,";
  array += "0]}";
  expect_one_line(cli(init_with(array, "array"), 20), "more than", "a 2 M element array");
  expect_one_line(cli(init_with(R"({"n_embd": 16, "n_embd": 32})", "dup")), "duplicate key",
                  "duplicate key");
  expect_one_line(cli(init_with(R"({"n_embd": 16} {})", "trail")), "expected end of input",
                  "trailing bytes");
  expect_one_line(cli(init_with(R"({"n_embd": 1e999})", "overflow")), "overflow", "1e999");
}

// Point 5: oversized configs, directories, disk full, range messages.
TEST_F(BadInput, FailuresSayWhatAndWhere) {
  expect_one_line(cli(init_with(R"({"n_embd": 1073741824, "n_head": 1})", "huge")),
                  "this model needs at least", "an oversized config");
  expect_one_line(cli(fmt::format("init --config {} --out {}", path("data"), path("never3"))),
                  "Is a directory", "a directory as config");
  expect_one_line(cli(fmt::format("logits -m {} --ids-file {} --out {}", path("model"),
                                  path("data"), path("l.safetensors"))),
                  "Is a directory", "a directory as ids file");
  expect_one_line(cli(fmt::format("logits -m {} --ids 1,2 --out {}", path("model"), path("data"))),
                  "Is a directory", "a directory as --out");
  EXPECT_FALSE(fs::exists(path("data.tmp")));

  // A file-size limit stands in for a full disk: the error names the file and the reason,
  // and nothing half-written stays.
  fs::remove_all(path("full_model"));
  expect_one_line(
      cli(fmt::format("init --config {} --out {}", path("config.json"), path("full_model")), 60,
          "ulimit -f 200;"),
      "model.safetensors: cannot write: File too large", "disk full in init");
  EXPECT_FALSE(fs::exists(path("full_model")));
  fs::remove_all(path("full_run"));
  const Outcome full = cli(fmt::format("train --config {} --data {} --out {}", path("config.json"),
                                       path("data"), path("full_run")),
                           60, "ulimit -f 1000;");
  expect_one_line(full, "File too large", "disk full in train");
  for (const auto& [name, bytes] : snapshot(path("full_run")))
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name << " left behind";

  const Outcome t = cli("-t 1e400 version");
  EXPECT_EQ(t.status, 2);
  EXPECT_LE(t.err.size(), 200u) << t.err;  // not a 300-digit bound
  EXPECT_NE(t.err.find("[0, 1024]"), std::string::npos) << t.err;
}

// Point 6: greedy on NaN weights, empty data, -s/-t/-n out of range, a run killed before its
// first checkpoint.
TEST_F(BadInput, NoSilentAcceptance) {
  std::string weights = read_file(path("model/model.safetensors"));
  uint64_t header = 0;
  std::memcpy(&header, weights.data(), 8);
  for (size_t i = 8 + header; i + 4 <= weights.size(); i += 4)
    weights.replace(i, 4, "\xff\xff\xff\x7f");
  const std::string nan_model = model_with("model.safetensors", weights, "nan_model");
  expect_one_line(cli(fmt::format("generate -m {} -p hi -n 4 --temp 0", nan_model)),
                  "no finite maximum", "greedy on NaN weights");
  expect_one_line(cli(fmt::format("generate -m {} -p hi -n 4 --temp 1", nan_model)),
                  "no finite maximum", "sampling on NaN weights");

  write_file(path("empty/empty.txt"), "");
  expect_one_line(cli(fmt::format("train --config {} --data {} --out {}", path("config.json"),
                                  path("empty/empty.txt"), path("never4"))),
                  "no text to train on", "an empty data file");
  EXPECT_FALSE(fs::exists(path("never4")));

  for (const char* args : {"-t 100000 version", "init -s -1 --config x --out y",
                           "generate -m x -p hi -s 99999999999999999999"}) {
    const Outcome o = cli(args);
    EXPECT_EQ(o.status, 2) << args << ": " << o.err;
    EXPECT_NE(o.err.find("must be an integer"), std::string::npos) << args << ": " << o.err;
  }
  for (const char* n : {"-2", "1048577", "1000000000"})
    expect_one_line(cli(fmt::format("generate -m {} -p hi -n {}", path("model"), n)),
                    "-n must be in [-1, 1048576]", std::string("-n ") + n);

  // A run killed before its first checkpoint: both commands say how to start over.
  const std::string killed = path("killed");
  fs::create_directories(killed);
  fs::copy_file(path("config.json"), killed + "/config.json");
  write_file(killed + "/metrics.jsonl", "{\"type\":\"train\",\"step\":1,\"loss\":10}\n");
  expect_one_line(cli(fmt::format("train --config {} --data {} --out {}", path("config.json"),
                                  path("data"), killed)),
                  "add --force to start over", "train after a kill");
  expect_one_line(cli(fmt::format("train --out {} --resume", killed)), "with --force",
                  "--resume after a kill");
  const Outcome fresh = cli(fmt::format("train --config {} --data {} --out {} --force",
                                        path("config.json"), path("data"), killed));
  EXPECT_EQ(fresh.status, 0) << fresh.err;
  EXPECT_TRUE(fs::exists(killed + "/latest"));
}

// Seeded random mutations of a config, the model files and a checkpoint: never a signal,
// never past the time bound, exit 0 or one line — and a failure changes nothing.
TEST_F(BadInput, RandomMutationSweep) {
  std::mt19937_64 rng(1919);
  const std::string config = read_file(path("model/config.json"));
  for (int i = 0; i < 24; ++i) {
    const std::string args = init_with(mutate(config, rng), "mut_config");
    expect_clean(cli(args, 20), fmt::format("config mutation {}", i));
  }
  const std::string weights = read_file(path("model/model.safetensors"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, weights.data(), 8);
  for (int i = 0; i < 24; ++i) {
    std::string bytes = weights;
    if (i % 3 == 0) {
      bytes = mutate(weights.substr(0, 8 + header_len), rng) + weights.substr(8 + header_len);
    } else if (i % 3 == 1) {
      const std::string header = weights.substr(8, header_len);
      bytes = safetensors_with_header(mutate(header, rng)) + weights.substr(8 + header_len);
    } else {
      bytes = mutate(config, rng);
    }
    const std::string dir = i % 3 == 2 ? model_with("config.json", bytes, "mut_model")
                                       : model_with("model.safetensors", bytes, "mut_model");
    const auto before = snapshot(dir);
    const Outcome o = cli(fmt::format("info -m {}", dir), 20);
    expect_clean(o, fmt::format("model mutation {}", i));
    EXPECT_EQ(snapshot(dir), before);
  }
  const std::string state = read_file(path("run/checkpoints/step-00000002/trainer_state.json"));
  for (int i = 0; i < 10; ++i) {
    const std::string dir = run_with("trainer_state.json", mutate(state, rng), "mut_run");
    const auto before = snapshot(dir);
    const Outcome o = cli(fmt::format("train --out {} --resume", dir), 30);
    expect_clean(o, fmt::format("checkpoint mutation {}", i));
    if (o.status != 0) {
      EXPECT_EQ(snapshot(dir), before) << "checkpoint mutation " << i;
    }
  }
}

}  // namespace tinyr2
