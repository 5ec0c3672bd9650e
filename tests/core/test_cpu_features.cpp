// CPU features from CPUID (core/cpu_features) against an independent reader, the kernel's
// /proc/cpuinfo flags; instruction-set levels and the OpenBLAS kernel chosen from features.
#include <gtest/gtest.h>

#include <algorithm>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/blas_kernel.h"
#include "core/cpu_features.h"
#include "core/error.h"

namespace tinyr2::cpu {
namespace {

std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(CpuFeatures, AgreeWithProcCpuinfo) {
  const std::set<std::string> flags = proc_cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line on this system";
  const CpuFeatures f = detect_cpu_features();
  const std::pair<bool, const char*> ours[] = {{f.avx, "avx"},
                                               {f.avx2, "avx2"},
                                               {f.fma, "fma"},
                                               {f.avx512f, "avx512f"},
                                               {f.avx512dq, "avx512dq"},
                                               {f.avx512bw, "avx512bw"},
                                               {f.avx512vl, "avx512vl"},
                                               {f.avx512_vnni, "avx512_vnni"},
                                               {f.avx512_bf16, "avx512_bf16"},
                                               {f.avx512_fp16, "avx512_fp16"},
                                               {f.avx_vnni, "avx_vnni"},
                                               {f.amx_tile, "amx_tile"},
                                               {f.amx_bf16, "amx_bf16"},
                                               {f.amx_int8, "amx_int8"}};
  for (const auto& [present, name] : ours) EXPECT_EQ(present, flags.count(name) == 1) << name;
  EXPECT_FALSE(f.vendor.empty());
}

TEST(CpuFeatures, NamesListExactlyThePresentFeatures) {
  CpuFeatures f;
  f.avx2 = f.fma = f.avx512_bf16 = true;
  EXPECT_EQ(f.names(), (std::vector<std::string>{"avx2", "fma", "avx512_bf16"}));
}

CpuFeatures everything() {
  CpuFeatures f;
  f.avx = f.avx2 = f.fma = true;
  f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = true;
  f.avx512_vnni = f.avx512_bf16 = f.avx512_fp16 = f.avx_vnni = true;
  f.amx_tile = f.amx_bf16 = f.amx_int8 = true;
  return f;
}

TEST(IsaLevel, CappingLowersTheLevelAndTheKernel) {
  const CpuFeatures all = everything();
  EXPECT_EQ(isa_level(all), IsaLevel::Amx);
  const std::pair<IsaLevel, const char*> expected[] = {{IsaLevel::Amx, "Cooperlake"},
                                                       {IsaLevel::Avx512Bf16, "Cooperlake"},
                                                       {IsaLevel::Avx512, "SkylakeX"},
                                                       {IsaLevel::Avx2, "Haswell"},
                                                       {IsaLevel::Generic, "Prescott"}};
  for (const auto& [level, kernel] : expected) {
    const CpuFeatures capped = cap_to_isa(all, level);
    EXPECT_EQ(isa_level(capped), level) << isa_name(level);
    EXPECT_STREQ(blas::coretype_for(capped), kernel) << isa_name(level);
    EXPECT_EQ(parse_isa(isa_name(level)), level);
  }
  // Capping never adds a feature: the detected CPU capped at its own level is unchanged.
  const CpuFeatures here = detect_cpu_features();
  EXPECT_EQ(cap_to_isa(here, IsaLevel::Amx).names(), here.names());
}

TEST(IsaLevel, PartialAvx512IsAvx2AndAvxAloneIsSandybridge) {
  CpuFeatures f;
  f.avx = f.avx2 = f.fma = f.avx512f = true;  // no BW/VL/DQ (Xeon Phi): not our avx512 level
  EXPECT_EQ(isa_level(f), IsaLevel::Avx2);
  EXPECT_STREQ(blas::coretype_for(f), "Haswell");
  CpuFeatures avx_only;
  avx_only.avx = true;
  EXPECT_STREQ(blas::coretype_for(avx_only), "Sandybridge");
}

TEST(IsaLevel, CandidateKernelsAreThoseTheFeaturesAllow) {
  using V = std::vector<std::string>;
  CpuFeatures all = everything();
  EXPECT_EQ(blas::candidate_coretypes(all), (V{"Haswell", "SkylakeX", "Cooperlake"}));
  all.vendor = "AuthenticAMD";
  EXPECT_EQ(blas::candidate_coretypes(all), (V{"Haswell", "Zen", "SkylakeX", "Cooperlake"}));
  EXPECT_EQ(blas::candidate_coretypes(cap_to_isa(all, IsaLevel::Avx512)),
            (V{"Haswell", "Zen", "SkylakeX"}));
  EXPECT_EQ(blas::candidate_coretypes(cap_to_isa(all, IsaLevel::Generic)), V{"Prescott"});
  // The kernel chosen from the features is always among the candidates.
  for (IsaLevel level : {IsaLevel::Generic, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Amx}) {
    const CpuFeatures capped = cap_to_isa(all, level);
    const V c = blas::candidate_coretypes(capped);
    EXPECT_NE(std::find(c.begin(), c.end(), blas::coretype_for(capped)), c.end())
        << isa_name(level);
  }
}

TEST(IsaLevel, UnknownNameIsAnErrorNamingIt) {
  try {
    parse_isa("avx9000");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx9000"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tinyr2::cpu
