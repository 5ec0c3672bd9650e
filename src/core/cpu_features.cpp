#include "core/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace tinyr2::cpu {

namespace {

struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Regs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return Regs{};
  return r;
}

bool bit(uint32_t value, int b) {
  return (value >> b) & 1u;
}

// XCR0: which register states the OS saves on a context switch.
uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  const std::pair<bool, const char*> all[] = {{avx, "avx"},
                                              {avx2, "avx2"},
                                              {fma, "fma"},
                                              {avx512f, "avx512f"},
                                              {avx512dq, "avx512dq"},
                                              {avx512bw, "avx512bw"},
                                              {avx512vl, "avx512vl"},
                                              {avx512_vnni, "avx512_vnni"},
                                              {avx512_bf16, "avx512_bf16"},
                                              {avx512_fp16, "avx512_fp16"},
                                              {avx_vnni, "avx_vnni"},
                                              {amx_tile, "amx_tile"},
                                              {amx_bf16, "amx_bf16"},
                                              {amx_int8, "amx_int8"}};
  std::vector<std::string> out;
  for (const auto& [on, name] : all)
    if (on) out.emplace_back(name);
  return out;
}

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  const Regs r0 = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &r0.ebx, 4);
  std::memcpy(vendor + 4, &r0.edx, 4);
  std::memcpy(vendor + 8, &r0.ecx, 4);
  f.vendor = vendor;
  const uint32_t max_leaf = r0.eax;

  const Regs r1 = cpuid(1);
  const uint32_t base_family = (r1.eax >> 8) & 0xf, base_model = (r1.eax >> 4) & 0xf;
  f.family =
      static_cast<int>(base_family == 0xf ? base_family + ((r1.eax >> 20) & 0xff) : base_family);
  f.model = static_cast<int>(base_family == 0x6 || base_family == 0xf
                                 ? base_model | (((r1.eax >> 16) & 0xf) << 4)
                                 : base_model);

  const bool osxsave = bit(r1.ecx, 27);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM0-15 high, ZMM16-31
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;         // XTILECFG and XTILEDATA

  f.avx = os_avx && bit(r1.ecx, 28);
  f.fma = os_avx && bit(r1.ecx, 12);
  if (max_leaf >= 7) {
    const Regs r7 = cpuid(7, 0);
    const Regs r71 = r7.eax >= 1 ? cpuid(7, 1) : Regs{};
    f.avx2 = os_avx && bit(r7.ebx, 5);
    f.avx512f = os_avx512 && bit(r7.ebx, 16);
    f.avx512dq = os_avx512 && bit(r7.ebx, 17);
    f.avx512bw = os_avx512 && bit(r7.ebx, 30);
    f.avx512vl = os_avx512 && bit(r7.ebx, 31);
    f.avx512_vnni = os_avx512 && bit(r7.ecx, 11);
    f.avx512_fp16 = os_avx512 && bit(r7.edx, 23);
    f.avx512_bf16 = os_avx512 && bit(r71.eax, 5);
    f.avx_vnni = os_avx && bit(r71.eax, 4);
    f.amx_bf16 = os_amx && bit(r7.edx, 22);
    f.amx_tile = os_amx && bit(r7.edx, 24);
    f.amx_int8 = os_amx && bit(r7.edx, 25);
  }
  return f;
}

const char* isa_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::Generic:
      return "generic";
    case IsaLevel::Avx2:
      return "avx2";
    case IsaLevel::Avx512:
      return "avx512";
    case IsaLevel::Avx512Bf16:
      return "avx512_bf16";
    case IsaLevel::Amx:
      return "amx";
  }
  return "?";
}

IsaLevel parse_isa(const std::string& name) {
  for (IsaLevel l :
       {IsaLevel::Generic, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Bf16, IsaLevel::Amx})
    if (name == isa_name(l)) return l;
  throw Error(fmt::format(
      "TINYR2_ISA={:?} is not an instruction-set level (generic, avx2, avx512, avx512_bf16, amx)",
      name));
}

IsaLevel isa_level(const CpuFeatures& f) {
  if (!(f.avx2 && f.fma)) return IsaLevel::Generic;
  if (!(f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl)) return IsaLevel::Avx2;
  if (!f.avx512_bf16) return IsaLevel::Avx512;
  if (!(f.amx_tile && f.amx_bf16 && f.amx_int8)) return IsaLevel::Avx512Bf16;
  return IsaLevel::Amx;
}

CpuFeatures cap_to_isa(CpuFeatures f, IsaLevel level) {
  if (level < IsaLevel::Amx) f.amx_tile = f.amx_bf16 = f.amx_int8 = false;
  if (level < IsaLevel::Avx512Bf16) f.avx512_bf16 = f.avx512_fp16 = false;
  if (level < IsaLevel::Avx512)
    f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = f.avx512_vnni = false;
  if (level < IsaLevel::Avx2) f.avx = f.avx2 = f.fma = f.avx_vnni = false;
  return f;
}

CpuFeatures cpu_features() {
  CpuFeatures f = detect_cpu_features();
  if (const char* isa = std::getenv("TINYR2_ISA"); isa && *isa) f = cap_to_isa(f, parse_isa(isa));
  return f;
}

}  // namespace tinyr2::cpu
