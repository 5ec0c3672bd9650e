#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/fast_math.h"

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;  // elements below which a loop stays serial
constexpr int64_t kSumBlock = 1024;       // float partial sums over this many terms
}  // namespace

float row_max(const float* x, int64_t n) {
  // kLanes independent maxima (g++ does not vectorise a max reduction on its own).
  constexpr int64_t kLanes = 32;
  float lane[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) lane[j] = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < kLanes; ++j) m = std::max(m, lane[j]);
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

double row_sum_exp(const float* x, int64_t n, float m) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = std::min(n, b + kSumBlock);
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = b; i < e; ++i) s += fast_exp(x[i] - m);
    total += s;
  }
  return total;
}

double row_exp(const float* x, float* y, int64_t n, float m) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = std::min(n, b + kSumBlock);
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = b; i < e; ++i) {
      y[i] = fast_exp(x[i] - m);
      s += y[i];
    }
    total += s;
  }
  return total;
}

// ---------------------------------------------------------------- softmax

void softmax_forward(const float* x, float* y, int64_t R, int64_t C) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    const float m = row_max(xr, C);
    if (m == -std::numeric_limits<float>::infinity()) {  // fully masked row
      std::fill(yr, yr + C, 0.f);
      continue;
    }
    const double total = row_exp(xr, yr, C, m);
    const float inv = static_cast<float>(1.0 / total);
    for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
  }
}

void softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* yr = y + r * C;
    const float* gr = g + r * C;
    float* dr = dx + r * C;
    float dot = 0.f;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < C; ++c) dot += gr[c] * yr[c];
    for (int64_t c = 0; c < C; ++c) dr[c] += yr[c] * (gr[c] - dot);
  }
}

// ---------------------------------------------------------------- log_softmax

void log_softmax_forward(const float* x, float* y, int64_t R, int64_t C) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    const float m = row_max(xr, C);
    const float lse = static_cast<float>(m + std::log(row_sum_exp(xr, C, m)));
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] - lse;
  }
}

void log_softmax_backward(const float* y, const float* g, float* dx, int64_t R, int64_t C) {
#pragma omp parallel for schedule(static) if (R * C > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const float* yr = y + r * C;
    const float* gr = g + r * C;
    float* dr = dx + r * C;
    float gsum = 0.f;
#pragma omp simd reduction(+ : gsum)
    for (int64_t c = 0; c < C; ++c) gsum += gr[c];
    for (int64_t c = 0; c < C; ++c) dr[c] += gr[c] - fast_exp(yr[c]) * gsum;
  }
}

}  // namespace tinyr2::kernels::cpu
