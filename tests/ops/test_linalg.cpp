// matmul / linear against the PyTorch oracle (reference/opcases/linalg.py).
#include <gtest/gtest.h>

#include "autograd/ops_linalg.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::load_op_cases;

TEST(OpParity, Matmul) {
  for (auto& c : load_op_cases("matmul")) {
    Tape tape;
    Tensor y = ops::matmul(tape, c.in("a"), c.in("b"), c.attr<bool>("trans_a"), c.attr<bool>("trans_b"));
    check_case(c, tape, {y});
  }
}

TEST(OpParity, Linear) {
  for (auto& c : load_op_cases("linear")) {
    Tape tape;
    check_case(c, tape, {ops::linear(tape, c.in("x"), c.in("w"))});
  }
}

}  // namespace tinyr2
