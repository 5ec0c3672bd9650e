// The fused attention router op (SPEC §11, ops::router_attention) against the PyTorch float64
// oracle (reference/opcases/router.py), and its thread-count independence.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops_router.h"
#include "core/threads.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;
using testing::random_tensor;

TEST(OpParity, RouterAttention) {
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    for (auto& c : load_op_cases("router_attention")) {
      for_each_backend(c, [&](OpCase& c, Tape& tape) {
        SCOPED_TRACE(c.name + " on " + std::to_string(nt) + " threads");
        check_case(c, tape, {ops::router_attention(tape, c.in("qkv"))});
      });
    }
  }
}

// Forward and backward bit-identical at 1, 2 and 3 threads, on enough tokens that the
// kernels run in parallel; the gradient is added onto what qkv.grad already holds.
TEST(RouterAttention, BitIdenticalAtAnyThreadCount) {
  const int64_t N = 600, E = 16;
  const Tensor x0 = random_tensor({N, 3 * E}, 11, 2.f), dz = random_tensor({N, E}, 12);
  const Tensor g0 = random_tensor({N, 3 * E}, 13);
  std::vector<std::vector<float>> z, dx;
  for (int nt : {1, 2, 3}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor x = x0.clone();
    x.set_requires_grad(true);
    std::memcpy(x.grad_accumulator(), g0.data(), sizeof(float) * g0.numel());
    Tape tape;
    const Tensor y = ops::router_attention(tape, x);
    tape.backward(y, dz);
    z.emplace_back(y.data(), y.data() + y.numel());
    dx.emplace_back(x.grad().data(), x.grad().data() + x.numel());
  }
  for (size_t t = 1; t < z.size(); ++t) {
    EXPECT_EQ(0, std::memcmp(z[0].data(), z[t].data(), z[0].size() * sizeof(float))) << t;
    EXPECT_EQ(0, std::memcmp(dx[0].data(), dx[t].data(), dx[0].size() * sizeof(float))) << t;
  }
  // backward adds (+=): onto g0 exactly the gradient a fresh qkv receives.
  Tensor x = x0.clone();
  x.set_requires_grad(true);
  Tape tape;
  tape.backward(ops::router_attention(tape, x), dz);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(dx[0][static_cast<size_t>(i)], g0.data()[i] + x.grad().data()[i]) << i;
}

}  // namespace tinyr2
