#include "bench/timing.h"

#include <algorithm>
#include <limits>

namespace tinyr2::bench {

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<Timing> time_interleaved(const std::vector<std::function<void()>>& fns,
                                     double min_seconds, int64_t min_calls, int64_t max_calls) {
  const size_t n = fns.size();
  std::vector<std::vector<double>> times(n);
  std::vector<double> total(n, 0.0);
  for (size_t i = 0; i < n; ++i) time_once(fns[i]);  // warm-up, not counted
  auto done = [&](size_t i) {
    const auto calls = static_cast<int64_t>(times[i].size());
    if (calls >= max_calls) return true;
    if (total[i] < min_seconds) return false;
    return calls >= min_calls || total[i] >= static_cast<double>(min_calls) * min_seconds;
  };
  for (;;) {
    bool all_done = true;
    for (size_t i = 0; i < n; ++i) all_done = all_done && done(i);
    if (all_done) break;
    for (size_t i = 0; i < n; ++i) {
      if (done(i)) continue;  // a slow fn does not run on just because a fast one needs calls
      const double s = time_once(fns[i]);
      times[i].push_back(s);
      total[i] += s;
    }
  }
  std::vector<Timing> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].median_s = median(times[i]);
    out[i].min_s = *std::min_element(times[i].begin(), times[i].end());
    out[i].calls = static_cast<int64_t>(times[i].size());
  }
  return out;
}

}  // namespace tinyr2::bench
