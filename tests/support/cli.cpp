#include "support/cli.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

namespace tinyr2::testing {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& name)
    : path_(fs::temp_directory_path() / fmt::format("tinyr2_{}_{}", name, ::getpid())) {
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

CliResult run_cli(const std::string& args, const std::string& scratch, const std::string& env) {
  fs::create_directories(scratch);
  const std::string out_file = scratch + "/cli.out", err_file = scratch + "/cli.err";
  const std::string cmd = fmt::format("{}{} {} >{} 2>{}", env.empty() ? "" : "env " + env + " ",
                                      TINYR2_CLI, args, out_file, err_file);
  const int raw = std::system(cmd.c_str());
  CliResult r;
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

}  // namespace tinyr2::testing
