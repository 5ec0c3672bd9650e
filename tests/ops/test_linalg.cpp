// matmul / linear against the PyTorch oracle (reference/opcases/linalg.py).
#include <gtest/gtest.h>

#include "autograd/ops_linalg.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

TEST(OpParity, Matmul) {
  for (auto& c : load_op_cases("matmul")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      Tensor y =
          ops::matmul(tape, c.in("a"), c.in("b"), c.attr<bool>("trans_a"), c.attr<bool>("trans_b"));
      check_case(c, tape, {y});
    });
  }
}

TEST(OpParity, Linear) {
  for (auto& c : load_op_cases("linear")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::linear(tape, c.in("x"), c.in("w"))});
    });
  }
}

}  // namespace tinyr2
