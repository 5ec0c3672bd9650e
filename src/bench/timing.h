// Timing helpers for `tinyr2 bench compare` (the Google Benchmark binary has its own loop).
//
// On a shared, noisy machine the median of repeated runs is the figure; workloads that are
// compared with each other run interleaved (a, b, a, b, ...), so that a slow phase of the
// machine hits every side alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace tinyr2::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Seconds one call of fn takes.
inline double time_once(const std::function<void()>& fn) {
  const Clock::time_point t0 = Clock::now();
  fn();
  return seconds_since(t0);
}

double median(std::vector<double> values);  // NaN when empty

struct Timing {
  double median_s = 0;  // median seconds per call
  double min_s = 0;     // fastest call
  int64_t calls = 0;    // timed calls (after the warm-up)
};

// Runs every fn once as an untimed warm-up (first-touch page faults, caches, optimizer state
// allocated on a training step's first call: a first training step can take twice as long as
// the next), then rounds of one call of each fn that still needs calls, in order. A fn needs calls
// until its timed calls sum to at least min_seconds and either number min_calls or sum to
// min_calls·min_seconds (one long call is enough), or reach max_calls. One Timing per fn;
// max_calls ≥ 1.
std::vector<Timing> time_interleaved(const std::vector<std::function<void()>>& fns,
                                     double min_seconds, int64_t min_calls,
                                     int64_t max_calls = 1000);

}  // namespace tinyr2::bench
