#include "bench/compare/output.h"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

namespace tinyr2::bench_compare {

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Progress goes to stderr, so stdout holds the report alone.
void progress(const std::string& line) {
  std::fputs(("[bench compare] " + line + "\n").c_str(), stderr);
  std::fflush(stderr);
}

int64_t peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  f >> v;
  return f ? v : -1.0;
}

std::string human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string rate(double per_s) {
  if (per_s >= 100) return fmt::format("{:.0f}", per_s);
  if (per_s >= 10) return fmt::format("{:.1f}", per_s);
  return fmt::format("{:.2f}", per_s);
}

std::string duration(double s) {
  if (s >= 10) return fmt::format("{:.1f} s", s);
  if (s >= 1) return fmt::format("{:.2f} s", s);
  return fmt::format("{:.2f} ms", s * 1e3);
}

}  // namespace tinyr2::bench_compare
