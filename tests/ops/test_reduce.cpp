// Sums and means against the PyTorch oracle (reference/opcases/reduce.py).
#include <gtest/gtest.h>

#include "autograd/ops_reduce.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

TEST(OpParity, Sum) {
  for (auto& c : load_op_cases("sum")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      Tensor y = ops::sum(tape, c.in("x"));
      EXPECT_EQ(y.dim(), 0) << c.name;
      check_case(c, tape, {y});
    });
  }
}

TEST(OpParity, Mean) {
  for (auto& c : load_op_cases("mean")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::mean(tape, c.in("x"))}); });
  }
}

TEST(OpParity, SumDim) {
  for (auto& c : load_op_cases("sum_dim")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::sum(tape, c.in("x"), c.attr<int64_t>("dim"), c.attr<bool>("keepdim"))});
    });
  }
}

TEST(OpParity, MeanDim) {
  for (auto& c : load_op_cases("mean_dim")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::mean(tape, c.in("x"), c.attr<int64_t>("dim"), c.attr<bool>("keepdim"))});
    });
  }
}

TEST(Reduce, LongRowsSumExactly) {
  // 10^6 copies of 0.1f: a float running sum drifts by ~1%, the double accumulator does not.
  const int64_t n = 1000000;
  Tape tape;
  Tensor x = Tensor::full({n}, 0.1f);
  const double expected = static_cast<double>(0.1f) * n;
  EXPECT_NEAR(ops::sum(tape, x).item(), expected, expected * 1e-6);
  EXPECT_NEAR(ops::sum(tape, x.view({1, n}), -1).item(), expected, expected * 1e-6);
  EXPECT_NEAR(ops::sum(tape, x.view({n, 1}), 0).item(), expected, expected * 1e-6);
}

}  // namespace tinyr2
