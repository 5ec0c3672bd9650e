// Which OpenBLAS kernel runs the matrix products (SPEC §16).
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernel ("core type") from a table of CPU
// models when the library loads and falls back to the SSE3 "Prescott" kernel on x86 CPUs it
// does not know — on a current Xeon that is 3–5× slower than its AVX-512 kernel. The engine
// instead derives the kernel from the CPU's feature flags (core/cpu_features.h):
//
//   AVX512_BF16 → Cooperlake, AVX-512 F/DQ/BW/VL → SkylakeX, AVX2 + FMA → Haswell,
//   AVX → Sandybridge, otherwise → Prescott.
//
// OpenBLAS reads OPENBLAS_CORETYPE only while it loads, before main(), so the choice is
// applied by select_blas_kernel() at the top of main(): when the loaded kernel differs from
// the chosen one, the process re-executes itself once with OPENBLAS_CORETYPE set. A user's
// own OPENBLAS_CORETYPE is respected (never overridden).
#pragma once

#include <string>
#include <vector>

#include "core/cpu_features.h"

namespace tinyr2::blas {

// The OpenBLAS core type for these features (see above).
const char* coretype_for(const cpu::CpuFeatures& f);

// The core types whose instructions these features have, the candidates for the fastest
// kernel (`bench compare` times each): Haswell (AVX2 + FMA; also Zen on AMD CPUs), SkylakeX
// (AVX-512 F/DQ/BW/VL), Cooperlake (+ AVX512_BF16); Sandybridge or Prescott only when none
// of those fits.
std::vector<std::string> candidate_coretypes(const cpu::CpuFeatures& f);

// The kernel the loaded OpenBLAS runs (openblas_get_corename()).
std::string kernel_in_use();

// Whether OPENBLAS_CORETYPE was set by the user (or the environment), not by
// select_blas_kernel(): then it is never overridden.
bool kernel_set_by_user();

// Why the kernel in use is the one it is: "chosen from the CPU features", "OPENBLAS_CORETYPE
// set by the user", or (when re-executing was impossible) "OpenBLAS's own choice".
std::string kernel_origin();

// First thing in main(): re-executes the program (same argv, /proc/self/exe) with
// OPENBLAS_CORETYPE = coretype_for(cpu::cpu_features()) when the user has not set it and the
// loaded kernel differs; returns otherwise (also when the re-exec fails: the program then
// runs on OpenBLAS's own choice). A bad $TINYR2_ISA is reported on stderr ("error: …") and
// returns false: the program then exits with status 1. The marker
// TINYR2_BLAS_SELECTED (the kernel asked for) prevents a second re-exec for the same choice;
// a child process that inherits both variables but is capped to another level (TINYR2_ISA)
// re-executes for its own choice. With TINYR2_ISA set it also caps oneDNN's JIT kernels
// (kernels/cpu/gemm_paths.h) at that level through DNNL_MAX_CPU_ISA, unless that is set.
[[nodiscard]] bool select_blas_kernel(char** argv);

}  // namespace tinyr2::blas
