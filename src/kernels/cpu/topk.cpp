#include "kernels/cpu/topk.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace tinyr2::kernels::cpu {

void topk_forward(const float* x, float* values, int32_t* indices, int64_t R, int64_t n,
                  int64_t k) {
#pragma omp parallel if (R * n > 32768)
  {
    std::vector<int32_t> order(static_cast<size_t>(n));  // one scratch row per thread
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; ++r) {
      const float* row = x + r * n;
      // A strict total order: NaN first, then larger value first, then lower index first.
      auto before = [row](int32_t a, int32_t b) {
        const float va = row[a], vb = row[b];
        const bool na = va != va, nb = vb != vb;
        if (na != nb) return na;
        if (!na && va != vb) return va > vb;
        return a < b;
      };
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        indices[r * k + j] = order[j];
        values[r * k + j] = row[order[j]];
      }
    }
  }
}

}  // namespace tinyr2::kernels::cpu
