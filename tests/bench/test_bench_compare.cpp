// `tinyr2 bench compare` end to end on a tiny config with shrunken micro-benchmarks: it runs
// both sides (tinyr2 and the PyTorch reference under TINYR2_TORCH_PYTHON), prints the table
// and ends with its ten `ratio NAME=VALUE` lines, every value finite and positive. Bad
// input fails with exit status 1 and one line on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "support/cli.h"

namespace {

namespace fs = std::filesystem;

using tinyr2::testing::lines_of;
using tinyr2::testing::TempDir;

tinyr2::testing::CliResult run_cli(const std::string& args, const TempDir& scratch) {
  return tinyr2::testing::run_cli(args, scratch.path().string());
}

// Every Tiny-R2 feature at toy widths: FULL + Sparse NSA layers, MLP + DSMoE, mHC.
constexpr const char* kTinyConfig = R"({
  "vocab_size": 256, "ctx_len": 64, "n_embd": 32, "n_head": 2, "n_layer": 2,
  "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 4,
  "num_exp": 2, "moe_hidden": 24, "q_lora_rank": 16, "kv_lora_rank": 8,
  "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8,
  "block_stride": 8, "compress_hidden": 24, "select_block_size": 8, "num_tokens_to_keep": 24,
  "select_init_blocks": 1, "select_local_blocks": 1, "window_size": 12, "hc": true,
  "hc_num_streams": 2, "train": {"batch_size": 2}
})";

constexpr const char* kSmall =
    "--steps 1 --warmup 0 --rounds 1 --decode-tokens 4 --prompt-tokens 4 --micro-t 64,128 "
    "--moe-tokens 256 --mfu-batch 1 --mfu-ctx 32 --gemm-n 128 --min-time 0.05";

TEST(BenchCompare, TinyConfigPrintsTableAndItsRatios) {
  TempDir dir("bench_test");
  const std::string config = dir / "tiny.json";
  std::ofstream(config) << kTinyConfig;
  const auto r = run_cli(fmt::format("-t 2 bench compare --config {} --python {} {}", config,
                                     TINYR2_TORCH_PYTHON, kSmall),
                         dir);
  ASSERT_EQ(r.status, 0) << r.out << r.err;

  // The table: a header and one row per end-to-end measure.
  EXPECT_NE(r.out.find("tinyr2/PyTorch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("training tokens/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode tokens/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak RSS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6·N + 12·n_layer·T·C/2"), std::string::npos) << r.out;

  const std::vector<std::string> names = {
      "train_speedup",       "decode_speedup",      "memory_ratio",    "bf16_speedup",
      "nsa_vs_full_32k",     "nsa_vs_full_512",     "moe_64_vs_8",     "mfu_dense512",
      "gemm_vs_best_kernel", "train_speedup_bound", "threads2_scaling"};
  // The output ends with exactly these ratio lines, in this order.
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_GE(lines.size(), names.size());
  std::map<std::string, double> ratios;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& line = lines[lines.size() - names.size() + i];
    const std::string prefix = "ratio " + names[i] + "=";
    ASSERT_EQ(line.rfind(prefix, 0), 0u) << "line: " << line << "\n" << r.out;
    const std::string value = line.substr(prefix.size());
    size_t used = 0;
    const double v = std::stod(value, &used);
    EXPECT_EQ(used, value.size()) << line;
    EXPECT_TRUE(std::isfinite(v) && v > 0) << line;
    ratios[names[i]] = v;
  }
  // The MFU line shows its arithmetic, "MFU = A GFLOP/s / B GFLOP/s (sgemm ceiling) = P%",
  // and the ratio line is P / 100. (No bound on the value itself: under a parallel ctest the
  // ceiling and the step are timed under different loads, so the fraction can exceed 1.)
  const size_t at = r.out.find("MFU = ");
  ASSERT_NE(at, std::string::npos) << r.out;
  double achieved = 0, ceiling = 0, percent = 0;
  ASSERT_EQ(
      std::sscanf(r.out.c_str() + at, "MFU = %lf GFLOP/s / %lf GFLOP/s (sgemm ceiling) = %lf%%",
                  &achieved, &ceiling, &percent),
      3)
      << r.out.substr(at, 120);
  EXPECT_GT(ceiling, 0);
  // Each printed figure is rounded to 0.05; bound what that does to A / B, plus P's own rounding.
  const double tol = 0.051 + 100 * 0.051 * (1 / ceiling + achieved / (ceiling * ceiling));
  EXPECT_NEAR(percent, 100 * achieved / ceiling, tol) << r.out.substr(at, 120);
  EXPECT_NEAR(ratios["mfu_dense512"], percent / 100, 0.0006 + 0.001 * percent / 100);

  // The PyTorch side multiplies on tinyr2's OpenBLAS kernel.
  EXPECT_NE(r.out.find("PyTorch runs with OPENBLAS_CORETYPE="), std::string::npos) << r.out;
  // gemm_vs_best_kernel shows its arithmetic, "= A / B GFLOP/s = R", B the best of the core
  // types listed before it (each run in a child), with the same A as the sgemm ceiling.
  const size_t each = r.out.find("raw cblas_sgemm GFLOP/s per OPENBLAS_CORETYPE");
  ASSERT_NE(each, std::string::npos) << r.out;
  const size_t g = r.out.find("gemm_vs_best_kernel = ");
  ASSERT_NE(g, std::string::npos) << r.out;
  double ours = 0, best = 0, shown = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str() + g, "gemm_vs_best_kernel = %lf / %lf GFLOP/s = %lf", &ours,
                        &best, &shown),
            3)
      << r.out.substr(g, 120);
  // Its figures have 4 significant digits; the MFU line's ceiling has 1 decimal. (No bound
  // on the value: under a parallel ctest the children can be starved while the ceiling is
  // not.)
  EXPECT_NEAR(ours, ceiling, 0.051 + 0.001 * ceiling);
  EXPECT_NEAR(ratios["gemm_vs_best_kernel"], shown, 0.001 * shown);
  EXPECT_NEAR(shown, ours / best, 0.003 * shown);
  // The per-core-type list, "...(child processes): Kernel 123.4, Kernel 0.5678": every item a
  // core type's name and one figure; the best of them is B.
  const std::string list_line = r.out.substr(each, r.out.find('\n', each) - each);
  const size_t colon = list_line.find("): ");
  ASSERT_NE(colon, std::string::npos) << list_line;
  double top = 0;
  int items = 0;
  std::istringstream list(list_line.substr(colon + 3));
  std::string item;
  while (std::getline(list, item, ',')) {
    if (!item.empty() && item[0] == ' ') item.erase(0, 1);
    const size_t space = item.find(' ');
    ASSERT_NE(space, std::string::npos) << "item '" << item << "' in: " << list_line;
    const std::string kernel = item.substr(0, space);
    ASSERT_TRUE(std::isalpha(static_cast<unsigned char>(kernel[0])))
        << "item '" << item << "' in: " << list_line;
    size_t used = 0;
    const double v = std::stod(item.substr(space + 1), &used);
    ASSERT_EQ(space + 1 + used, item.size()) << "item '" << item << "' in: " << list_line;
    EXPECT_GT(v, 0) << item;
    top = std::max(top, v);
    ++items;
  }
  EXPECT_GE(items, 1) << list_line;
  EXPECT_EQ(top, best) << r.out.substr(each, 200);  // the same figure, printed alike

  // train_speedup_bound shows its arithmetic, "at most A / B = Rx", A the same sgemm ceiling,
  // B PyTorch's achieved GFLOP/s as printed on the line before it, R the ratio line.
  const size_t pt = r.out.find("), PyTorch ", r.out.find("achieved: tinyr2 "));
  ASSERT_NE(pt, std::string::npos) << r.out;
  double torch_gflops = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str() + pt, "), PyTorch %lf GFLOP/s", &torch_gflops), 1);
  const size_t bound_at = r.out.find("train_speedup can be at most ");
  ASSERT_NE(bound_at, std::string::npos) << r.out;
  double bound_ceiling = 0, bound_torch = 0, bound = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str() + bound_at, "train_speedup can be at most %lf / %lf = %lfx",
                        &bound_ceiling, &bound_torch, &bound),
            3)
      << r.out.substr(bound_at, 120);
  EXPECT_NEAR(bound_ceiling, ceiling, 0.051);
  EXPECT_EQ(bound_torch, torch_gflops);
  EXPECT_GT(torch_gflops, 0);
  // A has 1 decimal, B 4 significant digits, R 2 decimals.
  EXPECT_NEAR(bound, bound_ceiling / bound_torch, 0.006 + bound * (0.001 + 0.06 / bound_ceiling));
  EXPECT_NEAR(ratios["train_speedup_bound"], bound, 0.0051 + 0.001 * bound);
}

TEST(BenchCompare, MissingConfigFailsWithOneLine) {
  TempDir dir("bench_test");
  const std::string missing = dir / "no_such_config.json";
  const auto r = run_cli(fmt::format("bench compare --config {} --skip-micro", missing), dir);
  EXPECT_EQ(r.status, 1);
  const std::vector<std::string> err = lines_of(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find(missing), std::string::npos) << err[0];
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(BenchCompare, BadPythonFailsWithOneLine) {
  TempDir dir("bench_test");
  const std::string config = dir / "tiny.json";
  std::ofstream(config) << kTinyConfig;
  const std::string python = dir / "no_python";
  const auto r = run_cli(
      fmt::format("bench compare --config {} --python {} --skip-micro", config, python), dir);
  EXPECT_EQ(r.status, 1);
  const std::vector<std::string> err = lines_of(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find(python), std::string::npos) << err[0];
}

}  // namespace
