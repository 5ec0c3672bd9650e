#include "kernels/cpu/gather.h"

#include <cstddef>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {
constexpr int64_t kParallelWork = 32768;
}

void gather_rows(const float* x, const int32_t* idx, float* out, int64_t M, int64_t C,
                 bool accumulate) {
#pragma omp parallel for schedule(static) if (M * C > kParallelWork)
  for (int64_t m = 0; m < M; ++m) {
    const float* s = x + static_cast<int64_t>(idx[m]) * C;
    float* d = out + m * C;
    if (accumulate) {
      for (int64_t c = 0; c < C; ++c) d[c] += s[c];
    } else {
      for (int64_t c = 0; c < C; ++c) d[c] = s[c];
    }
  }
}

void scatter_add_rows(const float* src, const int32_t* idx, float* out, int64_t M, int64_t N,
                      int64_t C) {
  // Counting sort of m by destination row: order[start[k] .. start[k+1]) are the sources
  // of destination row rows[k], ascending.
  std::vector<int64_t> count(static_cast<size_t>(N) + 1, 0);
  for (int64_t m = 0; m < M; ++m) ++count[idx[m] + 1];
  std::vector<int32_t> rows;
  std::vector<int64_t> start;
  for (int64_t n = 0; n < N; ++n) {
    if (count[n + 1] > 0) {
      rows.push_back(static_cast<int32_t>(n));
      start.push_back(count[n]);
    }
    count[n + 1] += count[n];  // now count[n] is the first slot of row n
  }
  start.push_back(M);
  std::vector<int32_t> order(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) order[count[idx[m]]++] = static_cast<int32_t>(m);

  const int64_t K = static_cast<int64_t>(rows.size());
#pragma omp parallel for schedule(dynamic, 16) if (M * C > kParallelWork)
  for (int64_t k = 0; k < K; ++k) {
    float* d = out + static_cast<int64_t>(rows[k]) * C;
    for (int64_t j = start[k]; j < start[k + 1]; ++j) {
      const float* s = src + static_cast<int64_t>(order[j]) * C;
      for (int64_t c = 0; c < C; ++c) d[c] += s[c];
    }
  }
}

}  // namespace tinyr2::kernels::cpu
