#include "kernels/cpu/linear_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/softmax.h"

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;  // chunk elements below which the row loop is serial
}  // namespace

int64_t linear_cross_entropy_chunk_rows(int64_t V) {
  const int64_t rows = kLinearCeChunkBytes / (std::max<int64_t>(V, 1) * int64_t{sizeof(float)});
  return std::max<int64_t>(16, rows / 16 * 16);
}

void cross_entropy_chunk(float* z, int64_t r0, int64_t R, int64_t V, const int32_t* targets,
                         int32_t ignore_index, float scale, bool grad, float* lse,
                         double* row_loss) {
#pragma omp parallel for schedule(static) if (R * V > kParallelWork)
  for (int64_t r = 0; r < R; ++r) {
    const int64_t n = r0 + r;
    float* x = z + r * V;
    const int32_t t = targets[n];
    const bool ignored = t == ignore_index;
    const float m = row_max(x, V);
    const float target_logit = ignored ? 0.f : x[t];
    double total;
    if (grad && !ignored) {
      // x becomes exp(x − m), then scale · softmax − scale · onehot.
      total = row_exp(x, x, V, m);
      const float f = static_cast<float>(scale / total);
#pragma omp simd
      for (int64_t v = 0; v < V; ++v) x[v] *= f;
      x[t] -= scale;
    } else {
      total = row_sum_exp(x, V, m);
      if (grad) std::fill(x, x + V, 0.f);  // an ignored row has no gradient
    }
    const double l = m + std::log(total);
    if (lse) lse[n] = static_cast<float>(l);
    if (!ignored) row_loss[n] = l - target_logit;
  }
}

double linear_cross_entropy(const float* h, const float* W, const int32_t* targets, int64_t N,
                            int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse,
                            float* dh, float* dW, int64_t chunk_rows) {
  const bool grad = dh != nullptr || dW != nullptr;
  if (N == 0) {
    if (dW) std::fill(dW, dW + V * C, 0.f);
    return 0.0;
  }
  const int64_t rows =
      std::min(N, chunk_rows > 0 ? chunk_rows : linear_cross_entropy_chunk_rows(V));
  // One chunk's logits, then its G (uninitialised: the GEMM writes it all).
  const std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(rows * V)]);
  float* z = buffer.get();
  // Per-row losses summed serially at the end: the sum does not depend on the threads.
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);

  for (int64_t r0 = 0; r0 < N; r0 += rows) {
    const int64_t R = std::min(rows, N - r0);
    const float* hc = h + r0 * C;
    gemm(false, true, R, V, C, 1.f, hc, C, W, C, 0.f, z, V);  // z = h_chunk · Wᵀ

    cross_entropy_chunk(z, r0, R, V, targets, ignore_index, scale, grad, lse, row_loss.data());

    if (dh) gemm(false, false, R, C, V, 1.f, z, V, W, C, 0.f, dh + r0 * C, C);         // G · W
    if (dW) gemm(true, false, V, C, R, 1.f, z, V, hc, C, r0 == 0 ? 0.f : 1.f, dW, C);  // Gᵀ · h
  }

  double sum = 0.0;
  for (double l : row_loss) sum += l;
  return sum;
}

}  // namespace tinyr2::kernels::cpu
