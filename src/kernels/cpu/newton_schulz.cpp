#include "kernels/cpu/newton_schulz.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kChunk = 4096;            // sum_squares chunk (fixes the summation order)
constexpr int64_t kParallelWork = 1 << 15;  // below this, elementwise loops stay serial
}  // namespace

double sum_squares(const float* x, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t end = std::min(n, (k + 1) * kChunk);
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 independent sums: vectorisable
    int64_t i = k * kChunk;
    for (; i + 8 <= end; i += 8)
      for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(x[i + l]) * x[i + l];
    double s = 0.0;
    for (; i < end; ++i) s += static_cast<double>(x[i]) * x[i];
    for (int l = 0; l < 8; ++l) s += lane[l];
    partial[k] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

void newton_schulz(const float* G, float* out, int64_t rows, int64_t cols, int steps,
                   NewtonSchulzCoeffs coeffs, float eps) {
  const int64_t numel = rows * cols;
  if (numel == 0) return;
  const bool tall = rows > cols;         // iterate on Gᵀ: A is cols × cols
  const int64_t n = tall ? cols : rows;  // the small side

  // X_0 = G / (‖G‖_F + eps), written to out (elementwise, so out may alias G).
  const float inv = static_cast<float>(1.0 / (std::sqrt(sum_squares(G, numel)) + eps));
#pragma omp parallel for schedule(static) if (numel > kParallelWork)
  for (int64_t i = 0; i < numel; ++i) out[i] = G[i] * inv;
  if (steps <= 0) return;

  // One step: A = X Xᵀ, then X ← (a I + b A + c A A) X. A is symmetric, so X Xᵀ and A A
  // (= A Aᵀ) are symmetric rank-k updates (syrk, half the FLOPs of a gemm). Folding a·X into
  // the matrix B' = a I + b A + c A A saves a pass over X (the same polynomial; rounding
  // differs only in the last bits).
  std::vector<float> A(static_cast<size_t>(n * n)), B(static_cast<size_t>(n * n));
  std::vector<float> scratch(static_cast<size_t>(numel));
  float* X = out;
  float* next = scratch.data();
  for (int s = 0; s < steps; ++s) {
    if (tall)
      syrk(true, n, rows, 1.f, X, cols, 0.f, A.data(), n);  // Xᵀ X
    else
      syrk(false, n, cols, 1.f, X, cols, 0.f, A.data(), n);  // X Xᵀ
    for (int64_t i = 0; i < n * n; ++i) B[i] = coeffs.b * A[i];
    for (int64_t i = 0; i < n; ++i) B[i * n + i] += coeffs.a;
    syrk(false, n, n, coeffs.c, A.data(), n, 1.f, B.data(), n);  // B' += c A Aᵀ
    if (tall)
      gemm(false, true, rows, cols, cols, 1.f, X, cols, B.data(), n, 0.f, next, cols);  // X B'ᵀ
    else
      gemm(false, false, rows, cols, rows, 1.f, B.data(), n, X, cols, 0.f, next, cols);  // B' X
    std::swap(X, next);
  }
  if (X != out) std::memcpy(out, X, static_cast<size_t>(numel) * sizeof(float));
}

}  // namespace tinyr2::kernels::cpu
