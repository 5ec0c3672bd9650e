// Errors. A tinyr2::Error is a user-facing problem (bad config value, malformed file,
// missing path): the CLI prints its message on one line and exits 1. Internal invariant
// violations use TINYR2_CHECK, which also throws, with file and line.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tinyr2 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tinyr2

#define TINYR2_CHECK(cond, ...)                                                              \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::tinyr2::Error(::fmt::format("{}:{}: check failed: {}: {}", __FILE__, __LINE__, \
                                          #cond, ::fmt::format(__VA_ARGS__)));               \
  } while (0)
