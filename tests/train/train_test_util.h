// Helpers of the training tests: scratch directories, a small synthetic text corpus, and
// running the `tinyr2` binary (TINYR2_CLI) as a child process.
#pragma once

#include <filesystem>
#include <string>

#include <fmt/core.h>

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

}  // namespace tinyr2::train::testing
