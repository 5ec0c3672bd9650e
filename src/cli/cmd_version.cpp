// `tinyr2 version`: version, threads and the BLAS in use.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cblas.h>

#include "cli/commands.h"
#include "core/threads.h"

namespace tinyr2::cli {

Command make_version_command() {
  Command c;
  c.setup = [](CLI::App& app) {
    return app.add_subcommand("version", "print version, thread count and BLAS configuration");
  };
  c.execute = [] {
    fmt::print("tinyr2 {}\nthreads: {} (physical cores: {})\nBLAS: {}\n", TINYR2_VERSION,
               threads::num_threads(), threads::physical_cores(), openblas_get_config());
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
