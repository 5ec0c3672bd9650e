// The autograd tape: recording rules, no_grad, accumulation, freeing, and a finite-
// difference check of a small composite graph.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "core/rng.h"
#include "support/random_tensor.h"

namespace tinyr2 {

TEST(Tape, NoGradRecordsNothing) {
  Tape tape;
  Tensor x = testing::random_tensor({3, 4}, 1), w = testing::random_tensor({5, 4}, 2);
  w.set_requires_grad(true);
  {
    NoGradGuard guard(tape);
    Tensor y = ops::linear(tape, x, w);
    EXPECT_FALSE(y.requires_grad());
  }
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_TRUE(tape.grad_enabled());
  Tensor y = ops::linear(tape, x, w);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(tape.size(), 1u);
}

TEST(Tape, InputsWithoutGradAreNotRecorded) {
  Tape tape;
  Tensor y =
      ops::linear(tape, testing::random_tensor({3, 4}, 1), testing::random_tensor({5, 4}, 2));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(tape.size(), 0u);
}

TEST(Tape, GradientsAccumulateAndIntermediatesAreFreed) {
  // y = (x W1ᵀ) W2ᵀ with W1 used twice across two backward passes: grads add up.
  Tensor x = testing::random_tensor({2, 3}, 3), w1 = testing::random_tensor({4, 3}, 4),
         w2 = testing::random_tensor({1, 4}, 5);
  w1.set_requires_grad(true);
  w2.set_requires_grad(true);
  Tape tape;
  Tensor h = ops::linear(tape, x, w1);
  Tensor y = ops::matmul(tape, w2, h, false, true);  // (1, 2)
  tape.backward(y, Tensor::full({1, 2}, 1.f));
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_FALSE(h.grad().defined()) << "the intermediate's gradient is freed after use";
  const std::vector<float> g1 = w1.grad().to_vector();
  // d/dW1[i,j] of sum_n sum_i w2[i] (x_n · W1[i]) = w2[i] * sum_n x[n,j]
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(g1[i * 3 + j], w2.data()[i] * (x.data()[j] + x.data()[3 + j]), 1e-5);
  Tensor h2 = ops::linear(tape, x, w1);
  Tensor y2 = ops::matmul(tape, w2, h2, false, true);
  tape.backward(y2, Tensor::full({1, 2}, 1.f));
  for (int k = 0; k < 12; ++k) EXPECT_NEAR(w1.grad().data()[k], 2 * g1[k], 1e-5);
}

TEST(Tape, FiniteDifferencesOfACompositeGraph) {
  // f(W1, W2) = sum(G ⊙ ((X W1ᵀ) W2ᵀ)), batched X; central differences in double on
  // float32 evaluations with a step large enough to dominate rounding.
  Tensor x = testing::random_tensor({2, 3, 5}, 6), w1 = testing::random_tensor({4, 5}, 7),
         w2 = testing::random_tensor({6, 4}, 8), g = testing::random_tensor({2, 3, 6}, 9);
  auto f = [&](Tape& tape) {
    Tensor y = ops::linear(tape, ops::linear(tape, x, w1), w2);
    double s = 0;
    for (int64_t i = 0; i < y.numel(); ++i) s += double(y.data()[i]) * g.data()[i];
    return std::pair{y, s};
  };
  w1.set_requires_grad(true);
  w2.set_requires_grad(true);
  Tape tape;
  auto [y, s0] = f(tape);
  tape.backward(y, g);
  for (Tensor* w : {&w1, &w2}) {
    for (int64_t k = 0; k < w->numel(); ++k) {
      const float saved = w->data()[k];
      const float eps = 1e-2f;
      w->data()[k] = saved + eps;
      Tape t1;
      const double fp = f(t1).second;
      w->data()[k] = saved - eps;
      const double fm = f(t1).second;
      w->data()[k] = saved;
      const double fd = (fp - fm) / (2.0 * eps);  // exact for f linear in each weight
      EXPECT_NEAR(w->grad().data()[k], fd, 2e-3 * (1 + std::abs(fd))) << k;
    }
  }
}

}  // namespace tinyr2

namespace tinyr2 {

// reshape hands its gradient buffer to an input that has none yet; a second use of the same
// input then accumulates into it, and the caller's seed is never written.
TEST(Tape, ReshapeGradientIsHandedOverThenAccumulated) {
  Tensor x = testing::random_tensor({2, 3}, 11);
  x.set_requires_grad(true);
  Tape tape;
  Tensor y1 = ops::reshape(tape, x, {6});
  Tensor y2 = ops::reshape(tape, x, {3, 2});
  const Tensor s1 = testing::random_tensor({6}, 12);
  const std::vector<float> seed1 = s1.to_vector();
  tape.backward(ops::add(tape, y1, ops::reshape(tape, y2, {6})), s1);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(x.grad().data()[i], 2.f * seed1[i]);
  EXPECT_EQ(s1.to_vector(), seed1);
  EXPECT_EQ(x.grad().shape(), x.shape());
}

// Tensor::zeros zeroes large buffers in 64 Ki-float pieces on the threads: every element of a
// size that is not a multiple of the piece comes back 0, even in reused (dirty) memory.
TEST(Tensor, ZerosClearsEveryElementOfALargeReusedBuffer) {
  const int64_t n = (int64_t{1} << 18) * 3 + 12345;
  for (int round = 0; round < 3; ++round) {
    { Tensor dirty = Tensor::full({n}, 7.f); }  // freed: the heap hands it out again
    const Tensor z = Tensor::zeros({n});
    const float* p = z.data();
    int64_t nonzero = 0;
    for (int64_t i = 0; i < n; ++i) nonzero += p[i] != 0.f;
    EXPECT_EQ(nonzero, 0) << "round " << round;
  }
}

}  // namespace tinyr2
