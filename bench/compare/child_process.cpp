#include "bench/compare/child_process.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bench/timing.h"
#include "core/error.h"

namespace tinyr2::bench_compare {

namespace fs = std::filesystem;

Scratch::Scratch()
    : path_(fs::temp_directory_path() / ("tinyr2_bench_compare_" + std::to_string(::getpid()))) {
  fs::remove_all(path_);
  fs::create_directories(path_);
}

Scratch::~Scratch() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string last_line(const std::string& text, bool json_only) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (json_only && line[0] != '{') continue;
    last = line;
  }
  return last;
}

int open_output(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create files in {}", path);
  return fd;
}

std::string env_name(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

// This process's environment with `changes` applied (built before fork: no allocation in
// the child).
std::vector<std::string> child_environment(const EnvChanges& changes) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e, name = env_name(entry);
    bool changed = false;
    for (const auto& c : changes) changed = changed || env_name(c) == name;
    if (!changed) out.push_back(entry);
  }
  for (const auto& c : changes)
    if (c.find('=') != std::string::npos) out.push_back(c);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Starts argv with stdout and stderr on the two files; returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const EnvChanges& env,
            const std::string& out_path, const std::string& err_path, const std::string& what) {
  const int out_fd = open_output(out_path), err_fd = open_output(err_path);
  std::vector<std::string> copy = argv, env_copy = child_environment(env);
  const std::vector<char*> args = pointers(copy), envp = pointers(env_copy);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail("cannot start {}: fork failed", what);
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    const char msg[] = "error: exec failed\n";
    [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  return pid;
}

// The child's exit status, failing with its last stderr line unless it exited with 0.
void check_exit(int status, const std::string& err, const std::string& what,
                const std::string& program) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string why = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                            : fmt::format("signal {}", WTERMSIG(status));
  const std::string msg = last_line(err, false);
  fail("{} failed ({}){}{} (command: {})", what, why, msg.empty() ? "" : ": ", msg, program);
}

nlohmann::json parse_result(const std::string& out, const std::string& what) {
  try {
    return nlohmann::json::parse(last_line(out, true));
  } catch (const nlohmann::json::exception&) {
    fail("{} printed no result line (its last output: {})", what, last_line(out, false));
  }
}

}  // namespace

ChildRun run_child(const std::vector<std::string>& argv, const Scratch& scratch,
                   const std::string& what, const EnvChanges& env) {
  const std::string out_path = scratch.file("child.out"), err_path = scratch.file("child.err");
  const bench::Clock::time_point t0 = bench::Clock::now();
  const pid_t pid = spawn(argv, env, out_path, err_path, what);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) fail("waiting for {} failed", what);
  }
  ChildRun r;
  r.wall_s = bench::seconds_since(t0);
  r.max_rss_kb = ru.ru_maxrss;
  check_exit(status, read_text(err_path), what, argv[0]);
  r.result = parse_result(read_text(out_path), what);
  return r;
}

double number(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) fail("{}: result has no number \"{}\"", what, key);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v <= 0) fail("{}: \"{}\" is {}, not a positive number", what, key, v);
  return v;
}

}  // namespace tinyr2::bench_compare
