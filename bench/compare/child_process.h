// One side of one measure of `bench compare`, run as a child process: its stdout and stderr
// go to files in a scratch directory, its peak RSS comes from wait4, its result is the last
// JSON line it printed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tinyr2::bench_compare {

// A scratch directory for the children's output, removed at the end.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct ChildRun {
  nlohmann::json result;   // the child's JSON line
  int64_t max_rss_kb = 0;  // its peak resident set (wait4)
  double wall_s = 0;
};

// Changes to the environment a child inherits: NAME=VALUE sets NAME, a bare NAME removes it.
using EnvChanges = std::vector<std::string>;

// Runs argv (argv[0] a path) with this process's environment changed by `env`, and waits
// for it; tinyr2::Error, naming it by `what`, when it fails or prints no JSON line.
ChildRun run_child(const std::vector<std::string>& argv, const Scratch& scratch,
                   const std::string& what, const EnvChanges& env = {});

// j[key] as a finite positive number; tinyr2::Error naming `what` otherwise.
double number(const nlohmann::json& j, const char* key, const std::string& what);

}  // namespace tinyr2::bench_compare
