// rmsnorm, softmax, log_softmax, cross_entropy, linear_cross_entropy, rope, embedding, gather_rows,
// scatter_add_rows and topk against the PyTorch oracle (reference/opcases/nn.py), plus
// hand-written checks the oracle cannot express (top-k ties, index errors, edge cases).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "core/threads.h"
#include "kernels/cpu/linear_cross_entropy.h"
#include "support/error_of.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

namespace {
Tensor as_float(const IndexTensor& t) {
  return Tensor::from_vector(t.shape, std::vector<float>(t.data.begin(), t.data.end()));
}

using testing::error_of;
}  // namespace

TEST(OpParity, RmsNorm) {
  for (auto& c : load_op_cases("rmsnorm")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::rmsnorm(tape, c.in("x"), c.in("w"), c.attr<float>("eps"))});
    });
  }
}

// rmsnorm's backward sums dw in fixed 32-row chunks: dx and dw are bit-identical at 1, 2 and
// 3 threads (rows not a multiple of the chunk, above the parallel threshold).
TEST(RmsNorm, BackwardIsBitIdenticalAcrossThreadCounts) {
  auto grads = [](int nt) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor x = testing::random_tensor({301, 160}, 31), w = testing::random_tensor({160}, 32);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    Tape tape;
    Tensor y = ops::rmsnorm(tape, x, w, 1e-6f);
    tape.backward(y, testing::random_tensor(y.shape(), 33));
    return std::vector<std::vector<float>>{y.to_vector(), x.grad().to_vector(),
                                           w.grad().to_vector()};
  };
  const auto want = grads(1);
  EXPECT_EQ(grads(2), want);
  EXPECT_EQ(grads(3), want);
}

TEST(OpParity, Softmax) {
  for (auto& c : load_op_cases("softmax")) {
    for_each_backend(
        c, [&](OpCase& c, Tape& tape) { check_case(c, tape, {ops::softmax(tape, c.in("x"))}); });
  }
}

TEST(OpParity, LogSoftmax) {
  for (auto& c : load_op_cases("log_softmax")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::log_softmax(tape, c.in("x"))});
    });
  }
}

TEST(OpParity, CrossEntropy) {
  for (auto& c : load_op_cases("cross_entropy")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::cross_entropy(tape, c.in("logits"), c.index("targets"),
                                     c.attr<int>("ignore_index"))});
    });
  }
}

TEST(OpParity, LinearCrossEntropy) {
  for (auto& c : load_op_cases("linear_cross_entropy")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::linear_cross_entropy(tape, c.in("x"), c.in("w"), c.index("targets"),
                                            c.attr<int>("ignore_index"))});
    });
  }
}

// The unfused fp32 reference of the tied head: cross_entropy(linear(x, w)) on a tape, its
// loss and the gradients of x and w.
struct UnfusedHead {
  float loss;
  Tensor dx, dw;
};

UnfusedHead unfused_head(const Tensor& x, const Tensor& w, const IndexTensor& targets) {
  Tape tape;
  Tensor xr = x.clone(), wr = w.clone();
  xr.set_requires_grad(true);
  wr.set_requires_grad(true);
  Tensor loss = ops::cross_entropy(tape, ops::linear(tape, xr, wr), targets);
  tape.backward(loss);
  return {loss.item(), xr.grad(), wr.grad()};
}

// The fused kernel equals linear + cross_entropy (the unfused ops) for every chunk size,
// including chunks that do not divide N and a chunk larger than N.
TEST(OpParity, LinearCrossEntropyChunksAgreeWithTheUnfusedOps) {
  const int64_t N = 37, C = 12, V = 300;
  const Tensor x = testing::random_tensor({N, C}, 7), w = testing::random_tensor({V, C}, 8);
  std::vector<int32_t> t(N);
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 97 + 13) % V);
  t[3] = t[20] = -1;
  const UnfusedHead ref = unfused_head(x, w, IndexTensor({N}, t));
  const float scale = 1.f / static_cast<float>(N - 2);
  for (int64_t chunk : {1, 5, 16, 36, 37, 64}) {
    Tensor dx = Tensor::empty({N, C}), dw = Tensor::empty({V, C}), lse = Tensor::empty({N});
    const double sum = kernels::cpu::linear_cross_entropy(
        x.data(), w.data(), t.data(), N, C, V, -1, scale, lse.data(), dx.data(), dw.data(), chunk);
    EXPECT_NEAR(sum * scale, ref.loss, 1e-6) << "chunk " << chunk;
    EXPECT_LE(testing::relative_error(dx, ref.dx), 1e-6) << "chunk " << chunk;
    EXPECT_LE(testing::relative_error(dw, ref.dw), 1e-6) << "chunk " << chunk;
    // Without gradients the kernel only reads: the same loss, the same log-sum-exp.
    Tensor lse2 = Tensor::empty({N});
    EXPECT_EQ(kernels::cpu::linear_cross_entropy(x.data(), w.data(), t.data(), N, C, V, -1, scale,
                                                 lse2.data(), nullptr, nullptr, chunk),
              sum);
    EXPECT_EQ(lse2.to_vector(), lse.to_vector());
  }
}

// The upstream gradient scales both input gradients; every row ignored gives 0 and records
// nothing; a target outside the vocabulary is named.
TEST(OpParity, LinearCrossEntropyEdges) {
  const Tensor x0 = testing::random_tensor({4, 3}, 1), w0 = testing::random_tensor({5, 3}, 2);
  const IndexTensor targets({4}, {0, 4, 2, 1});
  auto grads = [&](float seed) {
    Tape tape;
    Tensor x = x0.clone(), w = w0.clone();
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    Tensor loss = ops::linear_cross_entropy(tape, x, w, targets);
    tape.backward(loss, Tensor::full({}, seed));
    return std::pair{x.grad().to_vector(), w.grad().to_vector()};
  };
  const auto [gx1, gw1] = grads(1.f);
  const auto [gx3, gw3] = grads(-3.f);
  for (size_t i = 0; i < gx1.size(); ++i) EXPECT_FLOAT_EQ(gx3[i], -3.f * gx1[i]);
  for (size_t i = 0; i < gw1.size(); ++i) EXPECT_FLOAT_EQ(gw3[i], -3.f * gw1[i]);

  Tape tape;
  Tensor x = x0.clone();
  x.set_requires_grad(true);
  EXPECT_EQ(ops::linear_cross_entropy(tape, x, w0, IndexTensor({4}, {-1, -1, -1, -1})).item(), 0.f);
  EXPECT_EQ(tape.size(), 0u);
  const std::string e = error_of([&] {
    ops::linear_cross_entropy(tape, x0, w0, IndexTensor({4}, {0, 5, 1, 1}));
  });
  EXPECT_NE(e.find("target 5 at row 1"), std::string::npos) << e;
  EXPECT_THROW(ops::linear_cross_entropy(tape, x0, Tensor::zeros({5, 4}), targets),
               Error);  // C mismatch
}

// Several vocabulary blocks (the last one short): the fused kernel still equals linear +
// cross_entropy, and lse, the loss, dh and dW are bit-identical at 1, 2 and 3 threads (the
// blocks are fixed work items with single-threaded GEMMs, sums in block order).
TEST(OpParity, LinearCrossEntropyBlocksAreThreadCountInvariant) {
  const int64_t N = 37, C = 24, V = 2 * kernels::cpu::kLinearCeVocabBlock + 276;
  const Tensor x = testing::random_tensor({N, C}, 17), w = testing::random_tensor({V, C}, 18);
  std::vector<int32_t> t(N);
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 331 + 5) % V);
  t[0] = static_cast<int32_t>(V - 1);  // in the short last block
  t[9] = -1;
  const UnfusedHead ref = unfused_head(x, w, IndexTensor({N}, t));
  const float scale = 1.f / static_cast<float>(N - 1);
  auto run = [&](int nt, int64_t chunk) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor dx = Tensor::empty({N, C}), dw = Tensor::empty({V, C}), lse = Tensor::empty({N});
    const double sum = kernels::cpu::linear_cross_entropy(
        x.data(), w.data(), t.data(), N, C, V, -1, scale, lse.data(), dx.data(), dw.data(), chunk);
    return std::tuple{sum, lse.to_vector(), dx, dw};
  };
  for (int64_t chunk : {5, 37}) {
    const auto [sum, lse, dx, dw] = run(1, chunk);
    // The reference is the unfused fp32 ops, summing 1300 vocabulary terms in another order:
    // a few fp32 ulps of the loss apart (one ulp of 17.4 is 1.9e-6; seen: 1.0e-6 with AVX2's
    // vectorised exp, 1.9e-6 in the sanitizer build's code).
    EXPECT_NEAR(sum * scale, ref.loss, 4 * FLT_EPSILON * std::abs(ref.loss)) << "chunk " << chunk;
    EXPECT_LE(testing::relative_error(dx, ref.dx), 1e-5) << "chunk " << chunk;
    EXPECT_LE(testing::relative_error(dw, ref.dw), 1e-5) << "chunk " << chunk;
    for (int nt : {2, 3}) {
      const auto [sum2, lse2, dx2, dw2] = run(nt, chunk);
      EXPECT_EQ(sum2, sum) << nt << " threads, chunk " << chunk;
      EXPECT_EQ(lse2, lse) << nt << " threads, chunk " << chunk;
      EXPECT_EQ(dx2.to_vector(), dx.to_vector()) << nt << " threads, chunk " << chunk;
      EXPECT_EQ(dw2.to_vector(), dw.to_vector()) << nt << " threads, chunk " << chunk;
    }
  }
}

TEST(OpParity, Rope) {
  for (auto& c : load_op_cases("rope")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::rope(tape, c.in("x"), c.attr<std::vector<int32_t>>("positions"),
                            c.attr<float>("theta"))});
    });
  }
}

TEST(OpParity, Embedding) {
  for (auto& c : load_op_cases("embedding")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::embedding(tape, c.in("weight"), c.index("ids"))});
    });
  }
}

TEST(OpParity, GatherRows) {
  for (auto& c : load_op_cases("gather_rows")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape, {ops::gather_rows(tape, c.in("x"), c.index("idx"))});
    });
  }
}

TEST(OpParity, ScatterAddRows) {
  for (auto& c : load_op_cases("scatter_add_rows")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::scatter_add_rows(tape, c.in("src"), c.index("idx"), c.attr<int64_t>("num_rows"))});
    });
  }
}

TEST(OpParity, Topk) {
  for (auto& c : load_op_cases("topk")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      auto [values, indices] = ops::topk(tape, c.in("x"), c.attr<int64_t>("k"));
      EXPECT_FALSE(values.requires_grad()) << c.name;
      check_case(c, tape, {values, as_float(indices)}, 0.0);  // exact
    });
  }
}

// Ties go to the lower index; the oracle's inputs have none, so they are checked here.
TEST(OpParity, TopkTies) {
  Tape tape;
  Tensor x = Tensor::from_vector({3, 6}, {
                                             2, 2, 2, 2, 2, 2,     // all equal
                                             1, 3, 3, 2, 3, -1,    // a three-way tie
                                             0, -0.f, 5, 0, 5, 0,  // ±0 compare equal
                                         });
  auto [v4, i4] = ops::topk(tape, x, 4);
  EXPECT_EQ(i4.data, (std::vector<int32_t>{0, 1, 2, 3, 1, 2, 4, 3, 2, 4, 0, 1}));
  EXPECT_EQ(v4.to_vector(), (std::vector<float>{2, 2, 2, 2, 3, 3, 3, 2, 5, 5, 0, 0}));
  auto [v6, i6] = ops::topk(tape, x, 6);
  EXPECT_EQ(i6.data, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 1, 2, 4, 3, 0, 5, 2, 4, 0, 1, 3, 5}));
  EXPECT_EQ(shape_str(i6.shape), shape_str({3, 6}));

  // Large all-equal rows through the threaded path.
  Tensor flat = Tensor::full({40, 1000}, 0.25f);
  auto [vf, iflat] = ops::topk(tape, flat, 7);
  for (int64_t r = 0; r < 40; ++r)
    for (int64_t j = 0; j < 7; ++j) ASSERT_EQ(iflat.data[r * 7 + j], j) << "row " << r;

  // NaN ranks first, as in torch.topk.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto [vn, in] = ops::topk(tape, Tensor::from_vector({1, 4}, {1, nan, 4, nan}), 3);
  EXPECT_EQ(in.data, (std::vector<int32_t>{1, 3, 2}));
  EXPECT_THROW(ops::topk(tape, x, 7), Error);
}

TEST(OpParity, IndexErrorsNameTheBadIndex) {
  Tape tape;
  Tensor w = Tensor::zeros({5, 3});
  const std::string e = error_of([&] { ops::embedding(tape, w, IndexTensor({3}, {1, 7, 2})); });
  EXPECT_NE(e.find("index 7 at position 1 not in [0, 5)"), std::string::npos) << e;
  EXPECT_NE(error_of([&] {
              ops::gather_rows(tape, w, IndexTensor({2}, {0, -1}));
            }).find("index -1"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ops::scatter_add_rows(tape, Tensor::zeros({2, 3}), IndexTensor({2}, {0, 4}), 4);
            }).find("index 4"),
            std::string::npos);
  const std::string ce = error_of([&] {
    ops::cross_entropy(tape, Tensor::zeros({2, 4}), IndexTensor({2}, {0, 4}));
  });
  EXPECT_NE(ce.find("target 4 at row 1"), std::string::npos) << ce;
  EXPECT_THROW(ops::rope(tape, Tensor::zeros({1, 2, 3}), {0, 1}, 10000.f), Error);  // D odd
  EXPECT_THROW(ops::rope(tape, Tensor::zeros({1, 2, 4}), {0}, 10000.f), Error);     // T ≠ 2
}

// Every target ignored: loss 0, no gradient (PyTorch would give NaN).
TEST(OpParity, CrossEntropyAllIgnored) {
  Tape tape;
  Tensor logits = Tensor::full({3, 5}, 1.f);
  logits.set_requires_grad(true);
  Tensor loss = ops::cross_entropy(tape, logits, IndexTensor({3}, {-1, -1, -1}));
  EXPECT_EQ(loss.item(), 0.f);
  EXPECT_EQ(tape.size(), 0u);
}

// A fully masked softmax row gives zeros, not NaN.
TEST(OpParity, SoftmaxMaskedRow) {
  Tape tape;
  const float inf = std::numeric_limits<float>::infinity();
  Tensor y = ops::softmax(tape, Tensor::from_vector({2, 3}, {-inf, -inf, -inf, 0, -inf, 0}));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0, 0, 0, 0.5f, 0, 0.5f}));
}

}  // namespace tinyr2
