#include "kernels/broadcast.h"

#include <cstddef>

namespace tinyr2::kernels {

BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& a_shape,
                                  const std::vector<int64_t>& b_shape,
                                  const std::vector<int64_t>& out_shape) {
  const size_t n = out_shape.size();
  auto dim = [n](const std::vector<int64_t>& s, size_t d) -> int64_t {
    const size_t lead = n - s.size();
    return d < lead ? 1 : s[d - lead];
  };
  BroadcastPlan p;
  for (int64_t d : out_shape) p.numel *= d;
  if (p.numel == 0) return p;
  std::vector<bool> a_full, b_full;
  for (size_t d = 0; d < n; ++d) {
    if (out_shape[d] == 1) continue;
    const bool af = dim(a_shape, d) != 1, bf = dim(b_shape, d) != 1;
    if (!p.size.empty() && af == a_full.back() && bf == b_full.back()) {
      p.size.back() *= out_shape[d];  // same broadcast pattern as the previous dim: merge
    } else {
      p.size.push_back(out_shape[d]);
      a_full.push_back(af);
      b_full.push_back(bf);
    }
  }
  const size_t m = p.size.size();
  p.a_stride.assign(m, 0);
  p.b_stride.assign(m, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = m; i-- > 0;) {
    if (a_full[i]) {
      p.a_stride[i] = sa;
      sa *= p.size[i];
    }
    if (b_full[i]) {
      p.b_stride[i] = sb;
      sb *= p.size[i];
    }
  }
  return p;
}

}  // namespace tinyr2::kernels
