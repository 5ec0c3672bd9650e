#include "kernels/cpu/reduce.h"

#include <algorithm>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;  // elements below which a loop stays serial
constexpr int64_t kBlock = 256;           // columns per task when reducing over a middle dim
constexpr int64_t kChunk = 8192;          // elements per partial sum of sum_all
}  // namespace

// ---------------------------------------------------------------- row primitives
// Eight independent double lanes: the compiler vectorises them (a single running sum would
// be a serial dependency chain) and the result does not depend on the thread count.

double sum_f64(const float* x, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(x[j + l]);
  double s = 0;
  for (; j < n; ++j) s += static_cast<double>(x[j]);
  for (int l = 0; l < 8; ++l) s += lane[l];
  return s;
}

double dot_f64(const float* x, const float* y, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l)
      lane[l] += static_cast<double>(x[j + l]) * static_cast<double>(y[j + l]);
  double s = 0;
  for (; j < n; ++j) s += static_cast<double>(x[j]) * static_cast<double>(y[j]);
  for (int l = 0; l < 8; ++l) s += lane[l];
  return s;
}

// ---------------------------------------------------------------- sum over one dim

void sum_dim_forward(const float* x, float* out, int64_t outer, int64_t n, int64_t inner,
                     double scale) {
  const bool par = outer * n * inner > kParallelWork;
  if (inner == 1) {  // contiguous rows
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < outer; ++o) out[o] = static_cast<float>(scale * sum_f64(x + o * n, n));
    return;
  }
  // Each task owns a block of columns of one outer slice and walks the n rows down it.
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, i0 = (task % blocks) * kBlock;
    const int64_t len = std::min(kBlock, inner - i0);
    double acc[kBlock];
    for (int64_t i = 0; i < len; ++i) acc[i] = 0;
    for (int64_t k = 0; k < n; ++k) {
      const float* row = x + (o * n + k) * inner + i0;
      for (int64_t i = 0; i < len; ++i) acc[i] += static_cast<double>(row[i]);
    }
    float* dst = out + o * inner + i0;
    for (int64_t i = 0; i < len; ++i) dst[i] = static_cast<float>(scale * acc[i]);
  }
}

void sum_dim_backward(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner,
                      double scale) {
  const float s = static_cast<float>(scale);
#pragma omp parallel for schedule(static) if (outer * n * inner > kParallelWork)
  for (int64_t r = 0; r < outer * n; ++r) {
    const float* gr = g + (r / n) * inner;
    float* d = dx + r * inner;
    for (int64_t i = 0; i < inner; ++i) d[i] += s * gr[i];
  }
}

// ---------------------------------------------------------------- sum of everything

double sum_all_forward(const float* x, int64_t n, double scale) {
  // Fixed-size chunks summed in parallel, then added in order: the same bits on any
  // number of threads.
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t c = 0; c < chunks; ++c)
    partial[c] = sum_f64(x + c * kChunk, std::min(kChunk, n - c * kChunk));
  double total = 0;
  for (double p : partial) total += p;
  return scale * total;
}

void sum_all_backward(float g, float* dx, int64_t n, double scale) {
  const float v = static_cast<float>(scale * g);
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t j = 0; j < n; ++j) dx[j] += v;
}

}  // namespace tinyr2::kernels::cpu
