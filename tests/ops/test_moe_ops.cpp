// DSMoE routing ops against the PyTorch oracle (reference/opcases/moe.py).
#include <gtest/gtest.h>

#include "autograd/ops_moe.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::load_op_cases;

TEST(OpParity, MoeRouteWeights) {
  for (auto& c : load_op_cases("moe_route_weights")) {
    Tape tape;
    check_case(c, tape, {ops::moe_route_weights(tape, c.in("p"), c.index("idx"), c.attr<bool>("normalize"))});
  }
}

TEST(OpParity, MoeBalanceLoss) {
  for (auto& c : load_op_cases("moe_balance_loss")) {
    Tape tape;
    check_case(c, tape, {ops::moe_balance_loss(tape, c.in("w"), c.index("idx"), c.attr<int64_t>("E"),
                                               c.attr<float>("c"))});
  }
}

}  // namespace tinyr2
