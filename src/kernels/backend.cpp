#include "kernels/backend.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "kernels/cpu/backend.h"

namespace tinyr2::kernels {

namespace {

constexpr Kernel kAllKernels[] = {
#define TINYR2_KERNEL_VALUE(name) Kernel::name,
    TINYR2_BACKEND_KERNELS(TINYR2_KERNEL_VALUE)
#undef TINYR2_KERNEL_VALUE
};

constexpr std::string_view kKernelNames[] = {
#define TINYR2_KERNEL_NAME(name) #name,
    TINYR2_BACKEND_KERNELS(TINYR2_KERNEL_NAME)
#undef TINYR2_KERNEL_NAME
};

// The macro list and the members agree: every entry has the same size, and the Backend is
// its name and device followed by exactly one entry per listed kernel.
struct BackendHeader {
  std::string_view name;
  Device device;
};
static_assert(sizeof(Backend) ==
                  sizeof(BackendHeader) + std::size(kAllKernels) * sizeof(Entry<void()>),
              "TINYR2_BACKEND_KERNELS must list every entry of Backend, once");

}  // namespace

std::string_view kernel_name(Kernel kernel) {
  return kKernelNames[static_cast<size_t>(kernel)];
}

std::span<const Kernel> all_kernels() {
  return kAllKernels;
}

std::string device_name(Device device) {
  switch (device) {
    case Device::CPU:
      return "cpu";
  }
  return "device #" + std::to_string(static_cast<int>(device));
}

void missing_kernel(std::string_view backend, Kernel kernel) {
  fail("the {} backend has no kernel {}", backend, kernel_name(kernel));
}

Backend::Backend(std::string_view name_, Device device_, void (*fill)(Backend&))
    : name(name_), device(device_) {
#define TINYR2_NAME_ENTRY(kernel) \
  kernel.backend_ = name;         \
  kernel.kernel_ = Kernel::kernel;
  TINYR2_BACKEND_KERNELS(TINYR2_NAME_ENTRY)
#undef TINYR2_NAME_ENTRY
  fill(*this);
}

bool Backend::supports(Kernel kernel) const {
  switch (kernel) {
#define TINYR2_SUPPORTS_CASE(name) \
  case Kernel::name:               \
    return name.defined();
    TINYR2_BACKEND_KERNELS(TINYR2_SUPPORTS_CASE)
#undef TINYR2_SUPPORTS_CASE
  }
  return false;
}

bool Backend::supports_op(std::string_view op) const {
  const std::span<const Kernel> needed = op_kernels(op);
  TINYR2_CHECK(!needed.empty(), "supports_op: no op named {}", op);
  return std::all_of(needed.begin(), needed.end(), [this](Kernel k) { return supports(k); });
}

std::vector<Kernel> Backend::missing() const {
  std::vector<Kernel> out;
  for (Kernel k : all_kernels())
    if (!supports(k)) out.push_back(k);
  return out;
}

// ---------------------------------------------------------------- the registry

std::span<const Backend* const> backends() {
  // One line per backend of this build (a CUDA build adds `&cuda_backend(),`).
  static const Backend* const registered[] = {
      &cpu_backend(),
  };
  return registered;
}

const Backend& find_backend(Device device, std::span<const Backend* const> among) {
  for (const Backend* b : among)
    if (b->device == device) return *b;
  fail("no kernel backend for device {} in this build", device_name(device));
}

const Backend& backend(Device device) {
  return find_backend(device, backends());
}

std::vector<Device> devices() {
  std::vector<Device> out;
  for (const Backend* b : backends()) out.push_back(b->device);
  return out;
}

}  // namespace tinyr2::kernels
