// Shape ops against the PyTorch oracle (reference/opcases/shape.py).
#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "autograd/ops_shape.h"
#include "support/op_case.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

namespace {
std::vector<Tensor> numbered_inputs(testing::OpCase& c) {
  std::vector<Tensor> xs;
  for (int64_t j = 0; j < c.attr<int64_t>("n"); ++j) xs.push_back(c.in(fmt::format("x{}", j)));
  return xs;
}
}  // namespace

TEST(OpParity, Reshape) {
  for (auto& c : load_op_cases("reshape")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      Tensor y = ops::reshape(tape, c.in("x"), c.attr<Shape>("shape"));
      EXPECT_TRUE(y.shares_storage(c.in("x"))) << c.name << ": reshape must be a view";
      check_case(c, tape, {y});
    });
  }
}

TEST(OpParity, Transpose) {
  for (auto& c : load_op_cases("transpose")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::transpose(tape, c.in("x"), c.attr<int64_t>("d0"), c.attr<int64_t>("d1"))});
    });
  }
}

TEST(OpParity, Permute) {
  for (auto& c : load_op_cases("permute")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::permute(tape, c.in("x"), c.attr<std::vector<int64_t>>("dims"))});
    });
  }
}

TEST(OpParity, Concat) {
  for (auto& c : load_op_cases("concat")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::concat(tape, numbered_inputs(c), c.attr<int64_t>("dim"))});
    });
  }
}

TEST(OpParity, Stack) {
  for (auto& c : load_op_cases("stack")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::stack(tape, numbered_inputs(c), c.attr<int64_t>("dim"))});
    });
  }
}

TEST(OpParity, Split) {
  for (auto& c : load_op_cases("split")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 ops::split(tape, c.in("x"), c.attr<std::vector<int64_t>>("sizes"),
                            c.attr<int64_t>("dim")));
    });
  }
}

TEST(OpParity, Slice) {
  for (auto& c : load_op_cases("slice")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::slice(tape, c.in("x"), c.attr<int64_t>("dim"), c.attr<int64_t>("begin"),
                             c.attr<int64_t>("end"))});
    });
  }
}

TEST(OpParity, Expand) {
  for (auto& c : load_op_cases("expand")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::expand(tape, c.in("x"), c.attr<Shape>("shape"))});
    });
  }
}

TEST(ShapeOps, SplitPieceWithoutGradientContributesZero) {
  Tape tape;
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  x.set_requires_grad(true);
  std::vector<Tensor> parts = ops::split(tape, x, {1, 2}, -1);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].to_vector(), (std::vector<float>{2, 3, 5, 6}));
  tape.backward(parts[1], Tensor::from_vector({2, 2}, {10, 20, 30, 40}));  // parts[0] unused
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 10, 20, 0, 30, 40}));
}

TEST(ShapeOps, BadShapesThrowWithBothShapes) {
  Tape tape;
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4});
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  std::string m = message([&] { ops::concat(tape, {a, b}, 0); });
  EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,4)"), std::string::npos) << m;
  m = message([&] { ops::reshape(tape, a, {4, 2}); });
  EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
  EXPECT_NE(m.find("(4,2)"), std::string::npos) << m;
  m = message([&] { ops::expand(tape, a, {2, 6}); });
  EXPECT_NE(m.find("(2,6)"), std::string::npos) << m;
  EXPECT_FALSE(message([&] { ops::split(tape, a, {1, 1}, 1); }).empty());
  EXPECT_FALSE(message([&] { ops::slice(tape, a, 1, 2, 4); }).empty());
  EXPECT_FALSE(message([&] { ops::permute(tape, a, {0, 0}); }).empty());
  EXPECT_FALSE(message([&] { ops::transpose(tape, a, 0, 2); }).empty());
}

}  // namespace tinyr2
