#include "core/memory.h"

#include <malloc.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fstream>
#include <string>

#include <fmt/format.h>

namespace tinyr2::memory {

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);              // never mmap a block: take it from the heap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and do not hand freed heap back to the system
}

namespace {

// The first number in FILE, or -1 ("max", missing, unreadable).
double read_number(const char* file) {
  std::ifstream f(file);
  double v = -1;
  if (!(f >> v)) return -1;
  return v;
}

}  // namespace

uint64_t available_bytes() {
  double avail = -1;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") avail = kib * 1024;
  }
  const double limit = read_number("/sys/fs/cgroup/memory.max");
  const double used = read_number("/sys/fs/cgroup/memory.current");
  if (limit > 0 && used >= 0 && (avail < 0 || limit - used < avail))
    avail = std::max(0.0, limit - used);
  return avail < 0 ? 0 : static_cast<uint64_t>(avail);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  if (u == 0) return fmt::format("{:.0f} bytes", bytes);
  return bytes < 1e4 ? fmt::format("{:.1f} {}", bytes, units[u])
                     : fmt::format("{:.1e} {}", bytes, units[u]);
}

}  // namespace tinyr2::memory
