// Attention primitives against the PyTorch oracle (reference/opcases/attention.py), plus the
// properties the NSA layers rely on: causality and window locality hold exactly, and a
// query that sees nothing gets an exact 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops_attention.h"
#include "core/rng.h"
#include "core/threads.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;

using testing::random_tensor;

namespace {

// Output rows (b, t, all heads) of a (B,T,H,D) tensor.
std::vector<float> token_row(const Tensor& x, int64_t b, int64_t t) {
  const int64_t T = x.size(1), row = x.size(2) * x.size(3);
  const float* p = x.data() + (b * T + t) * row;
  return std::vector<float>(p, p + row);
}

}  // namespace

TEST(OpParity, CausalAttention) {
  for (auto& c : load_op_cases("causal_attention")) {
    if (c.name.rfind("causal_attention", 0) != 0) continue;  // window cases: next test
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::causal_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.attr<float>("scale"),
                                 c.attr<int64_t>("window"), c.attr<int64_t>("q_offset"))});
    });
  }
}

TEST(OpParity, WindowAttention) {
  int n = 0;
  for (auto& c : load_op_cases("causal_attention")) {
    if (c.name.rfind("window_attention", 0) != 0) continue;
    ++n;
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::causal_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.attr<float>("scale"),
                                 c.attr<int64_t>("window"), c.attr<int64_t>("q_offset"))});
    });
  }
  EXPECT_GT(n, 0) << "no window_attention cases";
}

TEST(OpParity, RangeAttention) {
  for (auto& c : load_op_cases("range_attention")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      const auto lo = c.attr<std::vector<int32_t>>("lo"), hi = c.attr<std::vector<int32_t>>("hi");
      Tensor lse;
      const bool with_lse = c.attr<bool>("with_lse");
      Tensor y = ops::range_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.attr<float>("scale"),
                                      lo, hi, with_lse ? &lse : nullptr);
      // Empty ranges: output exactly 0, lse exactly -inf (the oracle writes 0 there).
      const int64_t B = y.size(0), T = y.size(1), H = y.size(2);
      int empty = 0;
      for (int64_t t = 0; t < T; ++t) {
        if (lo[t] < hi[t]) continue;
        ++empty;
        for (int64_t b = 0; b < B; ++b) {
          for (float x : token_row(y, b, t)) ASSERT_EQ(x, 0.f) << c.name << " t=" << t;
          if (!with_lse) continue;
          for (int64_t h = 0; h < H; ++h) {
            float& l = lse.data()[(b * T + t) * H + h];
            ASSERT_TRUE(std::isinf(l) && l < 0) << c.name << " lse at empty t=" << t << " is " << l;
            l = 0.f;
          }
        }
      }
      EXPECT_GT(empty, 0) << c.name << ": the cases are meant to include empty ranges";
      if (with_lse) {
        EXPECT_FALSE(lse.requires_grad());
        check_case(c, tape, {y, lse});
      } else {
        check_case(c, tape, {y});
      }
    });
  }
}

TEST(OpParity, IndexAttention) {
  for (auto& c : load_op_cases("index_attention")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      Tensor y = ops::index_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.index("idx"),
                                      c.attr<float>("scale"));
      // Query (0,1) has only padding: exactly 0.
      if (y.size(1) > 1) {
        for (float x : token_row(y, 0, 1)) ASSERT_EQ(x, 0.f) << c.name;
      }
      check_case(c, tape, {y});
    });
  }
}

// Changing k/v after position t (or before t's window) leaves output row t bit-identical.
TEST(AttentionOps, CausalityAndWindowAreExact) {
  const int64_t B = 2, T = 77, H = 2, Dk = 16, Dv = 8;
  const float scale = 0.25f;
  Tensor q = random_tensor({B, T, H, Dk}, 1), k = random_tensor({B, T, H, Dk}, 2),
         v = random_tensor({B, T, H, Dv}, 3);
  for (int64_t window : {0, 9}) {
    Tape tape;
    NoGradGuard ng(tape);
    Tensor y = ops::causal_attention(tape, q, k, v, scale, window);
    for (int64_t t0 : {0, 5, 31, 32, 40, 76}) {
      Tensor k2 = k.clone(), v2 = v.clone();
      const int64_t row_k = H * Dk, row_v = H * Dv;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < T; ++j) {
          const bool future = j > t0, outside = window > 0 && j <= t0 - window;
          if (!future && !outside) continue;
          for (int64_t i = 0; i < row_k; ++i) k2.data()[(b * T + j) * row_k + i] += 3.f;
          for (int64_t i = 0; i < row_v; ++i) v2.data()[(b * T + j) * row_v + i] -= 5.f;
        }
      Tensor y2 = ops::causal_attention(tape, q, k2, v2, scale, window);
      for (int64_t b = 0; b < B; ++b) {
        EXPECT_EQ(token_row(y, b, t0), token_row(y2, b, t0)) << "window " << window << " t " << t0;
      }
      if (t0 + 1 < T && window == 0) {  // and the next row does see the change
        EXPECT_NE(token_row(y, 0, t0 + 1), token_row(y2, 0, t0 + 1));
      }
    }
  }
}

// The kernels never look at a key outside a query's range: gradients there are exactly 0.
TEST(AttentionOps, NoGradientOutsideTheRange) {
  const int64_t B = 1, Tq = 10, Tk = 40, H = 2, D = 8;
  Tensor q = random_tensor({B, Tq, H, D}, 4), k = random_tensor({B, Tk, H, D}, 5),
         v = random_tensor({B, Tk, H, D}, 6);
  k.set_requires_grad(true);
  v.set_requires_grad(true);
  std::vector<int32_t> lo(Tq, 5), hi(Tq, 20);
  lo[3] = hi[3] = 7;  // one empty query
  Tape tape;
  Tensor y = ops::range_attention(tape, q, k, v, 0.3f, lo, hi);
  tape.backward(y, random_tensor(y.shape(), 7));
  for (int64_t j = 0; j < Tk; ++j) {
    const bool in = j >= 5 && j < 20;
    float gk = 0.f, gv = 0.f;
    for (int64_t i = 0; i < H * D; ++i) {
      gk += std::abs(k.grad().data()[j * H * D + i]);
      gv += std::abs(v.grad().data()[j * H * D + i]);
    }
    if (in) {
      EXPECT_GT(gv, 0.f) << "key " << j;
    } else {
      EXPECT_EQ(gk, 0.f) << "key " << j;
      EXPECT_EQ(gv, 0.f) << "key " << j;
    }
  }
}

// The backward runs in one pass over (b, h) when there are ≥ 2 (b, h) pairs per thread and
// in the split dK/dV + dQ passes otherwise; both add the same terms in the same order. So the
// gradients must be bit-identical at 1 thread (one pass for B·H ≥ 2) and at 2 and 3 threads
// (the split for B·H = 2, one pass for B·H = 32): causal attention with T not a multiple of
// the tiles (above the parallel threshold), T = 1, and ranges that are empty, not monotone,
// and start past key 0 (a key-tile grid that does not start at 0).
TEST(AttentionOps, BackwardIsBitIdenticalAcrossThreadCounts) {
  struct Shape4 {
    int64_t B, Tq, Tk, H, Dk, Dv;
    bool causal;
  };
  for (const Shape4& s : {Shape4{1, 133, 133, 2, 16, 24, true}, Shape4{1, 1, 1, 2, 8, 8, true},
                          Shape4{1, 150, 170, 2, 16, 8, false}, Shape4{8, 45, 45, 4, 8, 8, true}}) {
    std::vector<int32_t> lo(s.Tq), hi(s.Tq);  // non-causal: arbitrary ranges, one empty
    for (int64_t t = 0; !s.causal && t < s.Tq; ++t) {
      lo[t] = static_cast<int32_t>(3 + t / 3 + (t * 37) % 11);
      hi[t] = static_cast<int32_t>(std::min<int64_t>(s.Tk, lo[t] + 1 + (t * 53) % s.Tk));
    }
    if (!s.causal) lo[5] = hi[5] = 9;
    auto grads = [&](int nt) {
      threads::ScopedNumThreads threads_for_this_test(nt);
      Tensor q = random_tensor({s.B, s.Tq, s.H, s.Dk}, 11),
             k = random_tensor({s.B, s.Tk, s.H, s.Dk}, 12),
             v = random_tensor({s.B, s.Tk, s.H, s.Dv}, 13);
      for (Tensor* x : {&q, &k, &v}) x->set_requires_grad(true);
      Tape tape;
      Tensor y = s.causal ? ops::causal_attention(tape, q, k, v, 0.25f)
                          : ops::range_attention(tape, q, k, v, 0.25f, lo, hi);
      tape.backward(y, random_tensor(y.shape(), 14));
      return std::vector<std::vector<float>>{y.to_vector(), q.grad().to_vector(),
                                             k.grad().to_vector(), v.grad().to_vector()};
    };
    const auto want = grads(1);
    EXPECT_EQ(grads(2), want) << "Tq=" << s.Tq;
    EXPECT_EQ(grads(3), want) << "Tq=" << s.Tq;
  }
}

TEST(AttentionOps, ChecksArguments) {
  Tape tape;
  Tensor q = Tensor::zeros({1, 4, 2, 8}), k = Tensor::zeros({1, 6, 2, 8}),
         v = Tensor::zeros({1, 6, 2, 4});
  EXPECT_THROW(ops::range_attention(tape, q, k, v, 1.f, {0, 0, 0}, {1, 1, 1}), Error);
  EXPECT_THROW(ops::range_attention(tape, q, k, v, 1.f, {0, 0, 0, 0}, {1, 1, 1, 7}), Error);
  EXPECT_THROW(ops::range_attention(tape, q, k, v, 1.f, {0, 0, 2, 0}, {1, 1, 1, 1}), Error);
  EXPECT_THROW(ops::causal_attention(tape, q, Tensor::zeros({1, 6, 2, 7}), v, 1.f), Error);
  EXPECT_THROW(ops::causal_attention(tape, q, k, Tensor::zeros({1, 5, 2, 4}), 1.f), Error);
  EXPECT_THROW(ops::causal_attention(tape, q, k, v, 1.f, -1), Error);
  IndexTensor bad({1, 4, 2}, {0, 1, 2, 3, 4, 5, 6, -1});
  EXPECT_THROW(ops::index_attention(tape, q, k, v, bad, 1.f), Error);
  IndexTensor wrong_shape({1, 3, 2}, {0, 1, 2, 3, 4, 5});
  EXPECT_THROW(ops::index_attention(tape, q, k, v, wrong_shape, 1.f), Error);
  IndexTensor good({1, 4, 2}, {0, 1, 2, 3, 4, 5, -1, -1});
  EXPECT_NO_THROW(ops::index_attention(tape, q, k, v, good, 1.f));
}

}  // namespace tinyr2
