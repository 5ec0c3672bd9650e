// Broadcasting binary ops, scalar ops and activations against the PyTorch oracle
// (reference/opcases/elementwise.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/ops_elementwise.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/fast_math.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

TEST(OpParity, Add) {
  for (auto& c : load_op_cases("add")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::add(tape, c.in("a"), c.in("b"))});
    });
  }
}

TEST(OpParity, Sub) {
  for (auto& c : load_op_cases("sub")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::sub(tape, c.in("a"), c.in("b"))});
    });
  }
}

TEST(OpParity, Mul) {
  for (auto& c : load_op_cases("mul")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::mul(tape, c.in("a"), c.in("b"))});
    });
  }
}

TEST(OpParity, Scale) {
  for (auto& c : load_op_cases("scale")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::scale(tape, c.in("x"), c.attr<float>("s"))});
    });
  }
}

TEST(OpParity, AddScalar) {
  for (auto& c : load_op_cases("add_scalar")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::add_scalar(tape, c.in("x"), c.attr<float>("s"))});
    });
  }
}

TEST(OpParity, Relu2) {
  for (auto& c : load_op_cases("relu2")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::relu2(tape, c.in("x"))}); });
  }
}

TEST(OpParity, Gelu) {
  for (auto& c : load_op_cases("gelu")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::gelu(tape, c.in("x"))}); });
  }
}

TEST(OpParity, Silu) {
  for (auto& c : load_op_cases("silu")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::silu(tape, c.in("x"))}); });
  }
}

TEST(OpParity, Sigmoid) {
  for (auto& c : load_op_cases("sigmoid")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::sigmoid(tape, c.in("x"))}); });
  }
}

TEST(OpParity, Tanh) {
  for (auto& c : load_op_cases("tanh")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::tanh(tape, c.in("x"))}); });
  }
}

TEST(OpParity, Exp) {
  for (auto& c : load_op_cases("exp")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::exp(tape, c.in("x"))}); });
  }
}

TEST(Elementwise, ShapeMismatchNamesBothShapes) {
  Tape tape;
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    ops::add(tape, a, b);
    FAIL() << "add of (2,3) and (4) did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("(2,3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4)"), std::string::npos) << msg;
  }
  EXPECT_EQ(ops::broadcast_shapes({4, 1, 3}, {1, 5, 1}), (Shape{4, 5, 3}));
  EXPECT_EQ(ops::broadcast_shapes({}, {2}), (Shape{2}));
}

TEST(Elementwise, SameInputOnBothSides) {
  // x·x: both operand gradients land in the same buffer, d(x²)/dx = 2x.
  Tape tape;
  Tensor x = Tensor::from_vector({3}, {1.f, -2.f, 0.5f});
  x.set_requires_grad(true);
  tape.backward(ops::mul(tape, x, x), Tensor::full({3}, 1.f));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2.f, -4.f, 1.f}));
}

TEST(Elementwise, VectorisedExpAndErfAreAccurate) {
  // The kernels' vectorisable exp / erf (fast_math.h) on a dense grid against double
  // precision, far tighter than the parity tolerance; then the activations built on them.
  namespace cpu = kernels::cpu;
  const int64_t n = 400001;
  std::vector<float> x(n), y(n), dy(n);
  for (int64_t i = 0; i < n; ++i) x[i] = -100.f + 200.f * static_cast<float>(i) / (n - 1);
  for (int64_t i = 0; i < n; ++i) y[i] = cpu::fast_exp(x[i]);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = std::exp(static_cast<double>(x[i]));
    if (e > 1.2e-38 && e < 3.4e38) {
      worst = std::max(worst, std::abs(y[i] - e) / e);
    } else if (e >= 3.5e38) {
      EXPECT_TRUE(std::isinf(y[i])) << x[i];
    } else if (e < 1e-39) {
      EXPECT_EQ(y[i], 0.f) << x[i];
    }
  }
  EXPECT_LT(worst, 2e-7) << "exp relative error";
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(cpu::fast_exp(-kInf), 0.f);
  EXPECT_EQ(cpu::fast_exp(-87.34f), 0.f);
  EXPECT_TRUE(std::isinf(cpu::fast_exp(kInf)));
  EXPECT_TRUE(std::isnan(cpu::fast_exp(kNaN)));
  EXPECT_TRUE(std::isnan(cpu::fast_exp(std::bit_cast<float>(0x7fc00001u))));  // a NaN payload

  // erf: absolute error.
  double worst_erf = 0;
  for (int64_t i = 0; i < n; ++i)
    worst_erf = std::max(worst_erf, std::abs(cpu::fast_erf(x[i]) - std::erf(double{x[i]})));
  EXPECT_LT(worst_erf, 4e-7) << "erf";
  EXPECT_EQ(cpu::fast_erf(kInf), 1.f);
  EXPECT_EQ(cpu::fast_erf(-kInf), -1.f);
  EXPECT_TRUE(std::isnan(cpu::fast_erf(kNaN)));

  // gelu and its derivative: x·Φ(x) and Φ(x) + x·φ(x), absolute error per unit of |x|.
  cpu::gelu_forward(x.data(), y.data(), n);
  std::vector<float> ones(n, 1.f);
  cpu::gelu_backward(x.data(), ones.data(), dy.data(), n);
  double worst_y = 0, worst_dy = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i], cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
    worst_y = std::max(worst_y, std::abs(y[i] - v * cdf) / std::max(1.0, std::abs(v)));
    worst_dy = std::max(worst_dy, std::abs(dy[i] - (cdf + v * pdf)) / std::max(1.0, std::abs(v)));
  }
  EXPECT_LT(worst_y, 4e-7) << "gelu";
  EXPECT_LT(worst_dy, 4e-7) << "gelu derivative";

  // sigmoid and silu: absolute error of σ.
  cpu::sigmoid_forward(x.data(), y.data(), n);
  double worst_s = 0;
  for (int64_t i = 0; i < n; ++i)
    worst_s =
        std::max(worst_s, std::abs(y[i] - 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))));
  EXPECT_LT(worst_s, 2e-7) << "sigmoid";
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[n - 1], 1.f);
}

}  // namespace tinyr2
