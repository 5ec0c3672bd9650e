// Running the tinyr2 command from tests, and the scratch files around it: one copy for every
// test that drives the CLI (tests/cli, tests/infer, tests/train, tests/bench).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tinyr2::testing {

// A fresh directory $TMPDIR/tinyr2_<name>_<pid>, removed at the end of its scope.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path);                     // "" when it cannot be read
void write_file(const std::string& path, const std::string& text);  // creates the parent dirs
std::vector<std::string> lines_of(const std::string& text);

struct CliResult {
  int status = -1;  // exit status, or -1 if killed by a signal
  int signal = 0;   // the signal that killed it, or 0
  std::string out, err;
};

// Runs `env ENV tinyr2 ARGS` (ENV: VAR=value assignments, or "" for none) through the shell,
// stdout and stderr captured in files under the directory `scratch`.
CliResult run_cli(const std::string& args, const std::string& scratch, const std::string& env = "");

}  // namespace tinyr2::testing
