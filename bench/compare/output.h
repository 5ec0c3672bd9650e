// Output helpers of `bench compare`: the report on stdout, progress on stderr, number formats.
#pragma once

#include <cstdint>
#include <string>

namespace tinyr2::bench_compare {

void say(const std::string& line);       // one line of the report (stdout, flushed)
void progress(const std::string& line);  // "[bench compare] line" on stderr

int64_t peak_rss_kb();  // peak resident set of this process so far, KiB
double load_average();  // the 1-minute load average (/proc/loadavg), or -1

std::string human(double n);     // 12345678 → "12.35M"
std::string rate(double per_s);  // tokens/s with 0-2 decimals by size
std::string duration(double s);  // "12.3 s", "1.23 s", "4.56 ms"
inline double mib(double kb) {
  return kb / 1024.0;
}

}  // namespace tinyr2::bench_compare
