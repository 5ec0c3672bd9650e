// The thread pool: OpenMP's, shared with OpenBLAS (we link OpenBLAS's OpenMP build, so a
// GEMM runs on the same threads as our kernels and never oversubscribes). This is the
// only process-wide mutable state in tinyr2.
#pragma once

namespace tinyr2::threads {

// Physical cores (hyper-threads of one core count once); the default thread count.
int physical_cores();

// Sets the thread count for our kernels and for OpenBLAS. n <= 0 means physical_cores().
void set_num_threads(int n);
int num_threads();

}  // namespace tinyr2::threads
