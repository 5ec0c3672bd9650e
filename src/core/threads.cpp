#include "core/threads.h"

#include <omp.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <cblas.h>

namespace tinyr2::threads {

namespace {
int read_int(const std::filesystem::path& p) {
  std::ifstream f(p);
  int v = -1;
  f >> v;
  return f ? v : -1;
}
}  // namespace

int physical_cores() {
  // Count distinct (package, core) pairs among the CPUs this process may run on.
  std::set<std::pair<int, int>> cores;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/devices/system/cpu", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || name.rfind("cpu", 0) != 0 ||
        name.find_first_not_of("0123456789", 3) != std::string::npos)
      continue;
    int core = read_int(entry.path() / "topology/core_id");
    int pkg = read_int(entry.path() / "topology/physical_package_id");
    if (core >= 0) cores.insert({pkg, core});
  }
  int n = static_cast<int>(cores.size());
  int logical = omp_get_num_procs();  // respects the affinity mask (containers, taskset)
  if (n <= 0 || n > logical) n = logical > 0 ? logical : 1;
  return n;
}

void set_num_threads(int n) {
  if (n <= 0) n = physical_cores();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() {
  return omp_get_max_threads();
}

}  // namespace tinyr2::threads
