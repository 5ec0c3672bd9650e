// Hyper-connection primitives against the PyTorch oracle (reference/opcases/hc.py), and
// the Sinkhorn properties SPEC §2.5 promises.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops_hc.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

TEST(OpParity, StreamMix) {
  for (auto& c : load_op_cases("stream_mix")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::stream_mix(tape, c.in("R"), c.in("M"))});
    });
  }
}

TEST(OpParity, Sinkhorn) {
  for (auto& c : load_op_cases("sinkhorn")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::sinkhorn(tape, c.in("logits"), c.attr<double>("tau"), c.attr<int64_t>("iters"))});
    });
  }
}

TEST(OpParity, Orthostochastic) {
  for (auto& c : load_op_cases("orthostochastic")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::orthostochastic(tape, c.in("logits"), c.attr<int64_t>("steps"),
                                c.attr<double>("eps"), c.attr<std::array<double, 3>>("coeffs"))});
    });
  }
}

TEST(Sinkhorn, ColumnsSumToOneAndInitIsIdentity) {
  // SPEC init: 0 on the diagonal, −8 off it, tau 0.05, 10 iterations → H_res = I.
  const int64_t S = 4;
  Tensor logits = Tensor::full({S, S}, -8.f);
  for (int64_t i = 0; i < S; ++i) logits.data()[i * S + i] = 0.f;
  Tape tape;
  Tensor H = ops::sinkhorn(tape, logits, 0.05, 10);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) EXPECT_NEAR(H.data()[i * S + j], i == j ? 1.f : 0.f, 1e-6);
  // Random logits: columns sum to 1 (the last normalisation is over columns).
  Tensor r = Tensor::from_vector({S, S}, {0.3f, -1.f, 2.f, 0.1f, 0.7f, 0.2f, -0.5f, 1.1f, -2.f,
                                          0.4f, 0.9f, 0.f, 1.5f, -0.3f, 0.2f, -0.8f});
  Tensor H2 = ops::sinkhorn(tape, r, 0.5, 10);
  for (int64_t j = 0; j < S; ++j) {
    double col = 0;
    for (int64_t i = 0; i < S; ++i) col += H2.data()[i * S + j];
    EXPECT_NEAR(col, 1.0, 1e-5);
  }
}

}  // namespace tinyr2
