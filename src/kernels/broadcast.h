// Broadcasting for the binary and expand kernels: the plan every backend's elementwise
// kernels run by. Plain data, built on the host from the shapes; no device.
#pragma once

#include <cstdint>
#include <vector>

namespace tinyr2::kernels {

// A broadcast of a and b to the output shape, simplified for the loops: output dims of size 1
// are dropped and adjacent dims along which a and b both broadcast the same way are merged,
// so (B,T,C)+(C) becomes (B·T, C) with b strides (0, 1), and (B,T,C)·(B,T,1) becomes
// (B·T, C) with b strides (1, 0). Strides are in elements; 0 marks a broadcast dim.
struct BroadcastPlan {
  std::vector<int64_t> size;      // the merged output dims (row-major, none of size 1)
  std::vector<int64_t> a_stride;  // a's element stride along each merged dim (0 = broadcast)
  std::vector<int64_t> b_stride;
  int64_t numel = 1;  // elements of the output
};

// a_shape and b_shape must broadcast to out_shape (numpy rules, aligned on trailing dims).
BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& a_shape,
                                  const std::vector<int64_t>& b_shape,
                                  const std::vector<int64_t>& out_shape);

enum class BinaryOp { Add, Sub, Mul };

}  // namespace tinyr2::kernels
