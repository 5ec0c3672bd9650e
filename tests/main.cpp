// The test binary's entry point: OpenBLAS on the kernel the CPU's features call for, as in
// the tinyr2 command (core/blas_kernel.h), then GoogleTest.
#include <gtest/gtest.h>

#include <cstdio>
#include <exception>

#include "core/blas_kernel.h"

int main(int argc, char** argv) {
  try {  // OpenBLAS on the kernel the CPU's features call for
    tinyr2::blas::select_blas_kernel(argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
