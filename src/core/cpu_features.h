// What the CPU can do, read from CPUID (SPEC §16): the vector and matrix instruction sets the
// kernels and the GEMM choice depend on. Decisions are made from these flags, never from a
// table of CPU models.
//
// TINYR2_ISA=generic|avx2|avx512|avx512_bf16|amx caps the features the engine uses at that
// level (as if the CPU had no more), so that every kernel path can be checked on one machine.
#pragma once

#include <string>
#include <vector>

namespace tinyr2::cpu {

struct CpuFeatures {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  int family = 0, model = 0;
  // Usable features: the CPU has them and the OS saves their registers (XGETBV).
  bool avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;

  // The names of the features present, lower case, in the order above ("avx2 fma avx512f …").
  std::vector<std::string> names() const;
};

// Instruction-set levels, each including the ones before it.
enum class IsaLevel { Generic, Avx2, Avx512, Avx512Bf16, Amx };

const char* isa_name(IsaLevel level);
// "generic", "avx2", "avx512", "avx512_bf16", "amx"; anything else is an error naming the value.
IsaLevel parse_isa(const std::string& name);
// The highest level whose every feature is present (avx2 = AVX2 + FMA; avx512 = F, DQ, BW, VL;
// avx512_bf16 adds AVX512_BF16; amx adds AMX tile, bf16 and int8).
IsaLevel isa_level(const CpuFeatures& f);
// f without the features above `level`.
CpuFeatures cap_to_isa(CpuFeatures f, IsaLevel level);

// The CPU's own features, from CPUID and XGETBV.
CpuFeatures detect_cpu_features();
// The features the engine uses: detect_cpu_features() capped by $TINYR2_ISA when it is set.
CpuFeatures cpu_features();

}  // namespace tinyr2::cpu
