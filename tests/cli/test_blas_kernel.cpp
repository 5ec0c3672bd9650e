// The OpenBLAS kernel chosen from the CPU's features (core/blas_kernel.h), end to end through
// the tinyr2 command: the re-exec applies the choice, TINYR2_ISA lowers it, a user's own
// OPENBLAS_CORETYPE wins, the GEMM paths follow the level, and the logits do not depend on
// the kernel.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/core.h>

#include "support/cli.h"

#include "core/blas_kernel.h"
#include "core/cpu_features.h"
#include "io/safetensors.h"
#include "support/op_case.h"

namespace tinyr2 {
namespace {

namespace fs = std::filesystem;

using Result = tinyr2::testing::CliResult;

fs::path scratch() {
  const fs::path d = fs::temp_directory_path() / fmt::format("tinyr2_blas_kernel_{}", ::getpid());
  fs::create_directories(d);
  return d;
}

// Runs `env ENV tinyr2 ARGS`. A kernel this test process was given by select_blas_kernel()
// (tests/main.cpp) is not passed on: the child chooses for itself. A kernel the environment
// set is passed on — on some machines OPENBLAS_CORETYPE is set because other kernels
// misbehave there — and the tests that would have to override it are skipped.
Result run(const std::string& env, const std::string& args) {
  const std::string clean = blas::kernel_set_by_user()
                                ? "-u TINYR2_ISA "
                                : "-u OPENBLAS_CORETYPE -u TINYR2_BLAS_SELECTED -u TINYR2_ISA ";
  return tinyr2::testing::run_cli(args, scratch().string(), clean + env);
}

constexpr const char* kEnvironmentChose =
    "OPENBLAS_CORETYPE is set in this environment: the automatic choice is not overridden here";

std::string kernel_line(const Result& r) {
  const auto at = r.out.find("BLAS kernel: ");
  if (at == std::string::npos) return "(no BLAS kernel line in: " + r.out + r.err + ")";
  return r.out.substr(at, r.out.find('\n', at) - at);
}

TEST(BlasKernel, VersionReportsTheKernelChosenFromTheFeatures) {
  if (blas::kernel_set_by_user()) GTEST_SKIP() << kEnvironmentChose;
  const Result r = run("", "version");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string want = blas::coretype_for(cpu::detect_cpu_features());
  EXPECT_EQ(kernel_line(r), fmt::format("BLAS kernel: {} (chosen from the CPU features)", want));
  EXPECT_NE(r.out.find("ISA level: "), std::string::npos) << r.out;
}

TEST(BlasKernel, IsaCapLowersTheKernel) {
  if (blas::kernel_set_by_user()) GTEST_SKIP() << kEnvironmentChose;
  const cpu::CpuFeatures here = cpu::detect_cpu_features();
  if (cpu::isa_level(here) < cpu::IsaLevel::Avx2) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  const Result avx2 = run("TINYR2_ISA=avx2", "version");
  ASSERT_EQ(avx2.status, 0) << avx2.err;
  EXPECT_EQ(kernel_line(avx2), "BLAS kernel: Haswell (chosen from the CPU features)");
  EXPECT_NE(avx2.out.find("ISA level: avx2 (capped by TINYR2_ISA=avx2)"), std::string::npos)
      << avx2.out;
  // Below AVX-512 every product runs on OpenBLAS (kernels/cpu/gemm_paths.h).
  EXPECT_NE(avx2.out.find("GEMM: OpenBLAS Haswell for every product"), std::string::npos)
      << avx2.out;
  const Result generic = run("TINYR2_ISA=generic", "version");
  EXPECT_EQ(kernel_line(generic), "BLAS kernel: Prescott (chosen from the CPU features)");
  if (cpu::isa_level(here) < cpu::IsaLevel::Avx512) return;
  // At avx512 oneDNN is capped to its AVX-512 core kernels (DNNL_MAX_CPU_ISA).
  const Result avx512 = run("TINYR2_ISA=avx512", "version");
  ASSERT_EQ(avx512.status, 0) << avx512.err;
  EXPECT_NE(avx512.out.find("GEMM: oneDNN "), std::string::npos) << avx512.out;
  EXPECT_NE(avx512.out.find("(jit avx512_core)"), std::string::npos) << avx512.out;
}

TEST(BlasKernel, UsersOwnCoretypeWins) {
  const Result r = run("OPENBLAS_CORETYPE=Sandybridge", "version");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(kernel_line(r), "BLAS kernel: Sandybridge (OPENBLAS_CORETYPE set by the user)");
}

TEST(BlasKernel, BadIsaIsAnErrorNamingIt) {
  const Result r = run("TINYR2_ISA=avx9000", "version");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("avx9000"), std::string::npos) << r.err;
}

TEST(BlasKernel, LogitsDoNotDependOnTheKernel) {
  if (blas::kernel_set_by_user()) GTEST_SKIP() << kEnvironmentChose;
  const fs::path dir = scratch() / "model";
  fs::remove_all(dir);
  std::ofstream(scratch() / "config.json")
      << R"({"ctx_len": 64, "n_embd": 128, "n_head": 4, "n_layer": 2,
      "attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "n_experts": 3,
      "moe_hidden": 128, "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 16,
      "qk_rope_head_dim": 16, "v_head_dim": 16, "block_size": 8, "block_stride": 4,
      "select_block_size": 8, "num_tokens_to_keep": 24, "window_size": 16, "hc": true,
      "hc_num_streams": 2, "init_std": 0.1})";
  const Result init = run("", fmt::format("init --config {} --out {} -s 7",
                                          (scratch() / "config.json").string(), dir.string()));
  ASSERT_EQ(init.status, 0) << init.err;
  std::string ids;
  for (int i = 0; i < 60; ++i) ids += fmt::format("{}{}", i ? "," : "", (i * 7919) % 50257);
  const auto logits = [&](const std::string& env, const std::string& name) {
    const fs::path out = scratch() / (name + ".safetensors");
    const Result r =
        run(env, fmt::format("logits -m {} --ids {} --out {}", dir.string(), ids, out.string()));
    EXPECT_EQ(r.status, 0) << r.err;
    return io::load_safetensors(out.string()).tensors.at("logits");
  };
  const Tensor best = logits("", "best");
  for (const char* isa : {"avx512", "avx2", "generic"}) {
    const Tensor capped = logits(fmt::format("TINYR2_ISA={}", isa), isa);
    EXPECT_LE(testing::relative_error(capped, best), 1e-5) << isa;
  }
}

}  // namespace
}  // namespace tinyr2
