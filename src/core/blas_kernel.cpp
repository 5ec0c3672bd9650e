#include "core/blas_kernel.h"

#include <cblas.h>
#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace tinyr2::blas {

namespace {

constexpr const char* kMarker = "TINYR2_BLAS_SELECTED";  // the kernel we asked OpenBLAS for

// oneDNN's cap (DNNL_MAX_CPU_ISA) for a TINYR2_ISA level.
const char* onednn_isa_cap(cpu::IsaLevel level) {
  switch (level) {
    case cpu::IsaLevel::Generic:
      return "SSE41";
    case cpu::IsaLevel::Avx2:
      return "AVX2";
    case cpu::IsaLevel::Avx512:
      return "AVX512_CORE";
    case cpu::IsaLevel::Avx512Bf16:
      return "AVX512_CORE_BF16";
    case cpu::IsaLevel::Amx:
      return "AVX512_CORE_AMX";
  }
  return "ALL";
}

}  // namespace

// OPENBLAS_CORETYPE is ours when the marker names the same kernel (a process we re-executed,
// or a child of one); otherwise a set OPENBLAS_CORETYPE is the user's.
bool kernel_set_by_user() {
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (!user || !*user) return false;
  const char* marker = std::getenv(kMarker);
  return !marker || strcasecmp(marker, user) != 0;
}

const char* coretype_for(const cpu::CpuFeatures& f) {
  if (f.avx512_bf16 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) return "Cooperlake";
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) return "SkylakeX";
  if (f.avx2 && f.fma) return "Haswell";
  if (f.avx) return "Sandybridge";
  return "Prescott";
}

std::vector<std::string> candidate_coretypes(const cpu::CpuFeatures& f) {
  std::vector<std::string> out;
  if (f.avx2 && f.fma) {
    out.emplace_back("Haswell");
    if (f.vendor == "AuthenticAMD") out.emplace_back("Zen");
  }
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) {
    out.emplace_back("SkylakeX");
    if (f.avx512_bf16) out.emplace_back("Cooperlake");
  }
  if (out.empty()) out.emplace_back(coretype_for(f));  // Sandybridge or Prescott
  return out;
}

std::string kernel_in_use() {
  return openblas_get_corename();
}

std::string kernel_origin() {
  if (kernel_set_by_user()) return "OPENBLAS_CORETYPE set by the user";
  if (strcasecmp(kernel_in_use().c_str(), coretype_for(cpu::cpu_features())) == 0)
    return "chosen from the CPU features";
  return "OpenBLAS's own choice";
}

bool select_blas_kernel(char** argv) {
  cpu::CpuFeatures features;
  try {
    features = cpu::cpu_features();
  } catch (const Error& e) {  // a bad TINYR2_ISA
    std::fprintf(stderr, "error: %s\n", e.what());
    return false;
  }
  // oneDNN reads DNNL_MAX_CPU_ISA on its first use (always after this): a TINYR2_ISA cap
  // caps its JIT kernels too, unless the user set DNNL_MAX_CPU_ISA.
  const char* isa = std::getenv("TINYR2_ISA");
  const char* dnnl_cap = std::getenv("DNNL_MAX_CPU_ISA");
  if (isa && *isa && !(dnnl_cap && *dnnl_cap))
    setenv("DNNL_MAX_CPU_ISA", onednn_isa_cap(cpu::isa_level(features)), 1);
  if (kernel_set_by_user()) return true;
  const char* want = coretype_for(features);
  if (strcasecmp(kernel_in_use().c_str(), want) == 0) return true;
  // Tried already (this OpenBLAS does not run that kernel): keep what it runs.
  if (const char* marker = std::getenv(kMarker); marker && strcasecmp(marker, want) == 0)
    return true;
  setenv("OPENBLAS_CORETYPE", want, 1);
  setenv(kMarker, want, 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with OpenBLAS's own kernel.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kMarker);
  return true;
}

}  // namespace tinyr2::blas
