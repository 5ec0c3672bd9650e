#include "bench/compare/inputs.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "core/blas_kernel.h"
#include "core/error.h"

#ifndef TINYR2_SOURCE_DIR
#define TINYR2_SOURCE_DIR ""
#endif
#ifndef TINYR2_TORCH_PYTHON
#define TINYR2_TORCH_PYTHON "/usr/bin/python3"
#endif

namespace tinyr2::bench_compare {

namespace {

namespace fs = std::filesystem;

// The first existing file among `rel` under the source tree this binary was built from and
// under the cwd; tinyr2::Error "`first tried`: `missing`" when there is none.
std::string find_in_tree(const fs::path& rel, const char* missing) {
  const std::string built = std::string(TINYR2_SOURCE_DIR);
  std::vector<fs::path> tried;
  if (!built.empty()) tried.push_back(fs::path(built) / rel);
  tried.push_back(fs::current_path() / rel);
  for (const auto& p : tried)
    if (fs::is_regular_file(p)) return p.string();
  fail("{}: {}", tried.front().string(), missing);
}

std::string self_exe() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) fail("cannot find the tinyr2 executable (/proc/self/exe)");
  return self.string();
}

void check_counts(const CompareOptions& o) {
  if (o.steps < 1) fail("bench compare: --steps must be >= 1, got {}", o.steps);
  if (o.warmup < 0) fail("bench compare: --warmup must be >= 0, got {}", o.warmup);
  if (o.rounds < 1) fail("bench compare: --rounds must be >= 1, got {}", o.rounds);
  if (o.decode_tokens < 2)
    fail("bench compare: --decode-tokens must be >= 2, got {}", o.decode_tokens);
  if (o.prompt_tokens < 1)
    fail("bench compare: --prompt-tokens must be >= 1, got {}", o.prompt_tokens);
  if (o.micro_t.size() != 2 || o.micro_t[0] < 1 || o.micro_t[1] < 1)
    fail("bench compare: --micro-t takes two sequence lengths SHORT,LONG");
  if (o.moe_tokens < 1 || o.mfu_batch < 1 || o.mfu_ctx < 1 || o.gemm_n.empty())
    fail("bench compare: micro-benchmark sizes must be positive");
}

}  // namespace

std::string default_python() {
  return TINYR2_TORCH_PYTHON;
}

train::RunConfig load_config(const std::string& path) {
  if (path.empty()) fail("bench: give --config FILE");
  if (!fs::is_regular_file(path)) fail("{}: config file not found", path);
  return train::load_run_config(path);
}

Inputs resolve_inputs(const CompareOptions& o) {
  Inputs in;
  in.config = o.config.empty() ? find_in_tree(fs::path("configs") / "default.json",
                                              "config file not found (give --config FILE)")
                               : o.config;
  in.rc = load_config(in.config);
  check_counts(o);
  in.python = o.python.empty() ? default_python() : o.python;
  if (::access(in.python.c_str(), X_OK) != 0)
    fail(
        "{}: Python interpreter not found or not executable (give --python PATH to one with torch)",
        in.python);
  in.script =
      find_in_tree(fs::path("reference") / "bench.py", "the PyTorch benchmark script is missing");
  in.self = self_exe();
  in.torch_env = {"OPENBLAS_CORETYPE=" + blas::kernel_in_use()};
  return in;
}

}  // namespace tinyr2::bench_compare
