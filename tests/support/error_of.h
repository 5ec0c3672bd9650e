// The message of the tinyr2::Error a call throws, for tests of error messages (SPEC §5: one
// line that names what is wrong).
#pragma once

#include <string>

#include "core/error.h"

namespace tinyr2::testing {

// The message of the tinyr2::Error thrown by f, or "" when nothing is thrown.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tinyr2::testing
