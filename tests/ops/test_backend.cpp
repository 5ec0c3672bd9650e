// The kernel dispatch point (kernels/backend.h): the CPU backend is complete, a device without a
// backend is an error that names it, a missing entry is reported rather than called, and no code
// outside src/kernels reaches past the backend into kernels/cpu.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2 {
namespace {

TEST(Backend, CpuHasEveryEntry) {
  const kernels::Backend& cpu = kernels::backend(Device::CPU);
  EXPECT_EQ(cpu.name, "cpu");
  EXPECT_EQ(cpu.device, Device::CPU);
  for (kernels::Kernel k : kernels::all_kernels())
    EXPECT_TRUE(cpu.supports(k)) << "cpu backend lacks " << kernels::kernel_name(k);
  EXPECT_TRUE(cpu.missing().empty());
  for (std::string_view op : kernels::op_names())
    EXPECT_TRUE(cpu.supports_op(op)) << "cpu backend cannot run op " << op;
}

TEST(Backend, OpTableCoversEveryKernel) {
  // Every entry is launched by some op (an entry no op uses would be dead weight that a new
  // backend still has to fill), and every op names at least one kernel.
  std::set<kernels::Kernel> used;
  for (std::string_view op : kernels::op_names()) {
    const auto ks = kernels::op_kernels(op);
    EXPECT_FALSE(ks.empty()) << op;
    used.insert(ks.begin(), ks.end());
  }
  for (kernels::Kernel k : kernels::all_kernels())
    EXPECT_TRUE(used.count(k)) << kernels::kernel_name(k) << " is launched by no op";
  EXPECT_TRUE(kernels::op_kernels("no_such_op").empty());
  EXPECT_THROW(kernels::backend(Device::CPU).supports_op("no_such_op"), Error);
}

TEST(Backend, KernelNamesFollowTheList) {
  const auto all = kernels::all_kernels();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(kernels::kernel_name(all.front()), "gemm");
  EXPECT_EQ(kernels::kernel_name(kernels::Kernel::rmsnorm_backward), "rmsnorm_backward");
  std::set<std::string_view> names;
  for (kernels::Kernel k : all) names.insert(kernels::kernel_name(k));
  EXPECT_EQ(names.size(), all.size());
}

TEST(Backend, DevicesListsTheRegisteredBackends) {
  const std::vector<Device> devices = kernels::devices();
  ASSERT_EQ(devices.size(), kernels::backends().size());
  EXPECT_EQ(devices.front(), Device::CPU);
}

TEST(Backend, DeviceWithoutBackendIsAnErrorNamingIt) {
  // Among no backends, the CPU has none: the lookup behind kernels::backend(device).
  try {
    kernels::find_backend(Device::CPU, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel backend for device cpu"), std::string::npos)
        << e.what();
  }
  // A device value this build has no backend (and no name) for.
  const Device unknown = static_cast<Device>(7);
  try {
    kernels::backend(unknown);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device #7"), std::string::npos) << e.what();
  }
}

void fill_gemm_only(kernels::Backend& b) {
  b.gemm = kernels::backend(Device::CPU).gemm;
}

TEST(Backend, MissingEntryIsReportedNotCalled) {
  const kernels::Backend partial("partial", Device::CPU, fill_gemm_only);
  EXPECT_TRUE(partial.supports(kernels::Kernel::gemm));
  EXPECT_FALSE(partial.supports(kernels::Kernel::rmsnorm_forward));
  EXPECT_FALSE(partial.supports_op("linear"));  // linear also needs gemm_batched
  EXPECT_EQ(partial.missing().size(), kernels::all_kernels().size() - 1);
  // The filled entry runs: C = A·B for 1×1 matrices.
  const float a = 3.f, b = 4.f;
  float c = 0.f;
  partial.gemm(false, false, 1, 1, 1, 1.f, &a, 1, &b, 1, 0.f, &c, 1);
  EXPECT_EQ(c, 12.f);
  // The missing one throws, naming kernel and backend.
  float y = 0.f;
  try {
    partial.relu2_forward(&a, &y, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the partial backend has no kernel relu2_forward");
  }
}

// Nothing in src/ outside src/kernels includes kernels/cpu/* or names kernels::cpu: ops,
// optimizers and layers reach kernels only through kernels::backend(device).
TEST(Backend, NoCodeOutsideKernelsReachesIntoCpu) {
  namespace fs = std::filesystem;
  const fs::path src = fs::path(TINYR2_SOURCE_DIR) / "src";
  ASSERT_TRUE(fs::is_directory(src)) << src;
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), src);
    if (*rel.begin() == "kernels") continue;
    const std::string ext = e.path().extension().string();
    if (ext != ".h" && ext != ".cpp") continue;
    ++files;
    std::ifstream in(e.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const size_t code = line.find_first_not_of(' ');
      if (code != std::string::npos && line.compare(code, 2, "//") == 0) continue;  // comment
      EXPECT_EQ(line.find("kernels/cpu/"), std::string::npos) << rel << ":" << n << ": " << line;
      EXPECT_EQ(line.find("kernels::cpu"), std::string::npos) << rel << ":" << n << ": " << line;
    }
  }
  EXPECT_GT(files, 50) << "scanned too few files under " << src;
}

}  // namespace
}  // namespace tinyr2
