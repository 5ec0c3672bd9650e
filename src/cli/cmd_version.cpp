// `tinyr2 version`: version, threads, the CPU's features, the BLAS kernel in use and which
// sgemm runs which products (SPEC §16), and the integer path of the quantized products (§13).
#include <fmt/core.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cblas.h>

#include <cstdlib>

#include "cli/commands.h"
#include "core/blas_kernel.h"
#include "core/cpu_features.h"
#include "core/threads.h"
#include "kernels/gemm_rule.h"
#include "kernels/quant_format.h"

namespace tinyr2::cli {

Command make_version_command() {
  Command c;
  c.setup = [](CLI::App& app) {
    return app.add_subcommand(
        "version",
        "print version, threads, CPU features, the BLAS kernel and the GEMM paths in use");
  };
  c.execute = [] {
    const cpu::CpuFeatures detected = cpu::detect_cpu_features(), used = cpu::cpu_features();
    const char* cap = std::getenv("TINYR2_ISA");
    fmt::print("tinyr2 {}\nthreads: {} (physical cores: {})\n", TINYR2_VERSION,
               threads::num_threads(), threads::physical_cores());
    fmt::print("CPU: {} family {} model {}: {}\n", detected.vendor, detected.family, detected.model,
               fmt::join(detected.names(), " "));
    fmt::print("ISA level: {}{}\n", cpu::isa_name(cpu::isa_level(used)),
               cap && *cap ? fmt::format(" (capped by TINYR2_ISA={})", cap) : "");
    fmt::print("BLAS: {}\nBLAS kernel: {} ({})\n", openblas_get_config(), blas::kernel_in_use(),
               blas::kernel_origin());
    fmt::print("GEMM: {}\n", kernels::gemm_rule_summary());
    fmt::print("quantized products (q8_0/q4_0, SPEC §13): {}\n",
               kernels::quant_path_name(kernels::quant_path_for(used)));
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
