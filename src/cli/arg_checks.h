// Strict integer options: CLI11 clamps an out-of-range integer to the type's limit silently
// (-s 99999999999999999999 became 2^63−1) and prints floating-point bounds 300 digits long.
// in_range<T>(lo, hi) parses the whole argument as a T itself and names the range (issue 19):
//
//   s->add_option("-n", n, "...")->check(in_range<int64_t>(-1, kMaxNewTokens));
#pragma once

#include <charconv>
#include <limits>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

namespace tinyr2::cli {

inline constexpr int kMaxThreads = 1024;                    // -t (OpenMP may allow fewer)
inline constexpr int64_t kMaxNewTokens = int64_t{1} << 20;  // generate -n, and the cap of -n -1

template <class T>
CLI::Validator in_range(T lo, T hi) {
  // A signed type's whole range reads better in powers of two than as two 19-digit bounds.
  const bool whole_type = std::numeric_limits<T>::is_signed &&
                          lo == std::numeric_limits<T>::min() &&
                          hi == std::numeric_limits<T>::max();
  const std::string range =
      whole_type ? fmt::format("an integer in [-2^{0}, 2^{0})", std::numeric_limits<T>::digits)
                 : fmt::format("an integer in [{}, {}]", lo, hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        T v{};
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end || v < lo || v > hi) {
          const std::string shown = text.size() > 40 ? text.substr(0, 40) + "…" : text;
          return fmt::format("must be {}, got {}", range, shown);
        }
        return "";
      },
      range);
}

}  // namespace tinyr2::cli
