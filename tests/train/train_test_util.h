// Helpers of the training tests: scratch directories, a small synthetic text corpus, and
// running the `tinyr2` binary (TINYR2_CLI) as a child process.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/rng.h"

namespace tinyr2::train::testing {

namespace fs = std::filesystem;

// A fresh directory under the temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("tinyr2_train_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  fs::path path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

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

struct RunResult {
  int status = -1;  // exit status, or -1 if killed by a signal
  int signal = 0;   // the signal that killed it, or 0
  std::string out, err;
};

// Runs `tinyr2 ARGS` with stdout and stderr captured to files in `scratch`.
inline RunResult run_cli(const std::string& args, const std::string& scratch) {
  const std::string out_file = scratch + "/cli.out", err_file = scratch + "/cli.err";
  const std::string cmd = fmt::format("{} {} >{} 2>{}", TINYR2_CLI, args, out_file, err_file);
  const int raw = std::system(cmd.c_str());
  RunResult r;
  // The shell reports a child killed by signal s as exit status 128 + s.
  if (WIFEXITED(raw)) {
    r.status = WEXITSTATUS(raw);
    if (r.status > 128) r.signal = r.status - 128, r.status = -1;
  } else if (WIFSIGNALED(raw)) {
    r.signal = WTERMSIG(raw);
  }
  r.out = read_file(out_file);
  r.err = read_file(err_file);
  return r;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace tinyr2::train::testing
