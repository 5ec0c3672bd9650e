// `tinyr2 bench ops [ARGS...]`: the kernel micro-benchmarks (build/tinyr2-bench, Google
// Benchmark), with GFLOP/s next to the sgemm ceiling measured in the same run. Extra
// arguments go to Google Benchmark (e.g. --benchmark_filter=attention).
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"

namespace tinyr2::cli {

Command make_bench_command() {
  struct Options {
    std::string what;
    CLI::App* sub = nullptr;
  };
  auto opt = std::make_shared<Options>();
  Command c;
  c.setup = [opt](CLI::App& app) {
    CLI::App* sub = opt->sub = app.add_subcommand("bench", "throughput benchmarks: `bench ops` runs the kernel micro-benchmarks");
    sub->add_option("what", opt->what, "which benchmarks: ops")->required()->check(CLI::IsMember({"ops"}));
    sub->fallthrough(false);
    sub->prefix_command();  // everything after `ops` goes to Google Benchmark untouched
    sub->footer("Arguments after `ops` go to Google Benchmark, e.g. --benchmark_filter=sgemm");
    return sub;
  };
  c.execute = [opt]() -> int {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto bench = self.parent_path() / "tinyr2-bench";
    if (ec || !std::filesystem::exists(bench))
      fail("{} not found: build it with `cmake --build build --target tinyr2-bench`", bench.string());
    std::vector<std::string> argv_s = {bench.string(), "-t", std::to_string(threads::num_threads())};
    for (const auto& a : opt->sub->remaining()) argv_s.push_back(a);
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    fail("cannot run {}", bench.string());
  };
  return c;
}

}  // namespace tinyr2::cli
