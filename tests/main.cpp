// The test binary's entry point: OpenBLAS on the kernel the CPU's features call for, as in
// the tinyr2 command (core/blas_kernel.h), then GoogleTest.
#include <gtest/gtest.h>

#include "core/blas_kernel.h"

int main(int argc, char** argv) {
  // OpenBLAS on the kernel the CPU's features call for (may re-execute this program once).
  if (!tinyr2::blas::select_blas_kernel(argv)) return 1;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
