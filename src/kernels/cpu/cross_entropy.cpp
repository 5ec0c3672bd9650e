#include "kernels/cpu/cross_entropy.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/softmax.h"

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;
}

double cross_entropy_forward(const float* logits, const int32_t* targets, float* lse, int64_t N,
                             int64_t V, int32_t ignore_index) {
  // Per-row losses summed serially afterwards: the result does not depend on the threads.
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
#pragma omp parallel for schedule(static) if (N * V > kParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    const float* x = logits + n * V;
    const float m = row_max(x, V);
    const double l = m + std::log(row_sum_exp(x, V, m));
    lse[n] = static_cast<float>(l);
    if (targets[n] != ignore_index) row_loss[n] = l - x[targets[n]];
  }
  double sum = 0.0;
  for (double l : row_loss) sum += l;
  return sum;
}

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse,
                            float scale, float* dlogits, int64_t N, int64_t V,
                            int32_t ignore_index) {
#pragma omp parallel for schedule(static) if (N * V > kParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) continue;
    const float* x = logits + n * V;
    float* d = dlogits + n * V;
    const float l = lse[n];
    for (int64_t v = 0; v < V; ++v) d[v] += fast_exp(x[v] - l) * scale;
    d[targets[n]] -= scale;
  }
}

}  // namespace tinyr2::kernels::cpu
