// tinyr2 command-line entry point: global flags, subcommand dispatch, error → exit code.
//
// Exit status (SPEC §5): 0 success, 1 user error (one line on stderr), 2 usage error.
#include <csignal>
#include <cstdio>
#include <exception>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/arg_checks.h"
#include "cli/commands.h"
#include "core/blas_kernel.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/threads.h"

int main(int argc, char** argv) {
  // OpenBLAS on the kernel the CPU's features call for (may re-execute this program once).
  if (!tinyr2::blas::select_blas_kernel(argv)) return 1;
  tinyr2::memory::keep_freed_memory();
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported with the path,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"tinyr2 — train and run Tiny-R2 language models (MLA + NSA, DeepSeek MoE, mHC)",
               "tinyr2"};
  app.set_version_flag("--version", std::string("tinyr2 ") + TINYR2_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  int threads = 0;
  app.add_option("-t,--threads", threads, "threads for kernels and BLAS (default: physical cores)")
      ->check(tinyr2::cli::in_range(0, tinyr2::cli::kMaxThreads));

  std::vector<tinyr2::cli::Command> commands = tinyr2::cli::all_commands();
  for (auto& c : commands) c.attach(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    tinyr2::threads::set_num_threads(threads);
    if (threads > 0 && tinyr2::threads::num_threads() != threads)  // OpenMP's own limit
      tinyr2::fail("-t {}: this build runs at most {} threads (0: one per physical core)", threads,
                   tinyr2::threads::num_threads());
    for (auto& c : commands)
      if (c.parsed()) return c.run();
    return 2;
  } catch (const tinyr2::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {}\n", e.what());
    return 1;
  }
}
