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

// Sets the thread count for its lifetime and restores the previous one (tests that run an
// op on several thread counts).
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ScopedNumThreads() { set_num_threads(saved_); }
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int saved_;
};

}  // namespace tinyr2::threads
