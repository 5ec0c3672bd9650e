// DSMoE routing ops and the routed-experts op against the PyTorch oracle
// (reference/opcases/moe.py), plus what the oracle cannot express: the dispatch order, the
// dropout mask, experts nobody chose, both thread schedules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/threads.h"
#include "kernels/cpu/moe_experts.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;
using testing::random_tensor;

namespace {

// E experts of width H over C, requiring grad.
void make_experts(int64_t E, int64_t C, int64_t H, uint64_t seed, std::vector<Tensor>& fc,
                  std::vector<Tensor>& proj) {
  for (int64_t e = 0; e < E; ++e) {
    fc.push_back(random_tensor({H, C}, seed + 2 * e, 0.5f));
    proj.push_back(random_tensor({C, H}, seed + 2 * e + 1, 0.5f));
    fc.back().set_requires_grad(true);
    proj.back().set_requires_grad(true);
  }
}

}  // namespace

TEST(OpParity, MoeRouteWeights) {
  for (auto& c : load_op_cases("moe_route_weights")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(
          c, tape,
          {ops::moe_route_weights(tape, c.in("p"), c.index("idx"), c.attr<bool>("normalize"))});
    });
  }
}

TEST(OpParity, MoeBalanceLoss) {
  for (auto& c : load_op_cases("moe_balance_loss")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::moe_balance_loss(tape, c.in("w"), c.index("idx"), c.attr<int64_t>("E"),
                                        c.attr<float>("c"))});
    });
  }
}

// One thread (experts one after another) and two (experts in parallel when there are
// enough of them); the cases hold 3 to 63 experts.
TEST(OpParity, MoeExperts) {
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    for (auto& c : load_op_cases("moe_experts")) {
      for_each_backend(c, [&](OpCase& c, Tape& tape) {
        const auto E = c.attr<int64_t>("E");
        std::vector<Tensor> fc, proj;
        for (int64_t e = 0; e < E; ++e) {
          fc.push_back(c.in("fc" + std::to_string(e)));
          proj.push_back(c.in("proj" + std::to_string(e)));
        }
        SCOPED_TRACE(c.name + " on " + std::to_string(nt) + " threads");
        check_case(c, tape,
                   {ops::moe_experts(tape, c.in("x"), c.in("g"), c.index("idx"), fc, proj)});
      });
    }
  }
}

// The dispatch sorts slots by expert, tokens in order within an expert, and pos inverts it.
TEST(MoeDispatch, RowsSortedByExpertThenToken) {
  const std::vector<int32_t> idx = {2, 0, 1, 2, 2, 1};  // N = 3 tokens, K = 2
  const kernels::cpu::MoeDispatch d = kernels::cpu::moe_dispatch(idx.data(), 3, 2, 4);
  EXPECT_EQ(d.offsets, (std::vector<int64_t>{0, 1, 3, 6, 6}));
  EXPECT_EQ(d.token, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(d.slot, (std::vector<int32_t>{1, 2, 5, 0, 3, 4}));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(d.pos[d.slot[i]], i);
  // 3 active experts: one after another on 1 or 2 threads, in parallel from 4 active on 2.
  EXPECT_FALSE(kernels::cpu::moe_experts_in_parallel(d, 1));
  EXPECT_FALSE(kernels::cpu::moe_experts_in_parallel(d, 2));
  const std::vector<int32_t> four = {0, 1, 2, 3};
  EXPECT_TRUE(
      kernels::cpu::moe_experts_in_parallel(kernels::cpu::moe_dispatch(four.data(), 4, 1, 4), 2));
}

// With a dropout mask the op equals the composition of the single ops (gather, linear, relu²,
// linear, mask, gate, scatter-add) in the dispatch's row order, forward and backward; an
// expert nobody chose gets no gradient.
TEST(MoeExperts, MaskAndUnchosenExpertsMatchTheComposedOps) {
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    const int64_t N = 24, C = 6, H = 10, E = 12, K = 2;
    std::vector<int32_t> idx(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n) {  // experts 0..10, never 11
      idx[n * K] = static_cast<int32_t>(n % 11);
      idx[n * K + 1] =
          static_cast<int32_t>((n * 5 + 3) % 11 == n % 11 ? (n + 1) % 11 : (n * 5 + 3) % 11);
    }
    const IndexTensor chosen({N, K}, idx);
    const Tensor x0 = random_tensor({N, C}, 1), g0 = random_tensor({N, K}, 2),
                 dy = random_tensor({N, C}, 3);
    Tensor mask = random_tensor({N * K, C}, 4);
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data()[i] = mask.data()[i] > 0.f ? 1.25f : 0.f;

    struct Result {
      std::vector<float> y, dx, dg;
      std::vector<std::vector<float>> dfc, dproj;
      bool unchosen_has_grad;
    };
    auto run = [&](bool fused) {
      std::vector<Tensor> fc, proj;
      make_experts(E, C, H, 100, fc, proj);
      Tensor x = x0.clone(), g = g0.clone();
      x.set_requires_grad(true);
      g.set_requires_grad(true);
      Tape t;
      Tensor y;
      if (fused) {
        y = ops::moe_experts(t, x, g, chosen, fc, proj, mask);
      } else {
        const auto d = kernels::cpu::moe_dispatch(idx.data(), N, K, E);
        const Tensor gf = ops::reshape(t, g, {N * K, 1});
        std::vector<Tensor> parts;
        for (int64_t e = 0; e < E; ++e) {
          const int64_t r0 = d.offsets[e], n = d.rows_of(e);
          if (n == 0) continue;
          const IndexTensor tok(
              {n}, std::vector<int32_t>(d.token.begin() + r0, d.token.begin() + r0 + n));
          const IndexTensor slots(
              {n}, std::vector<int32_t>(d.slot.begin() + r0, d.slot.begin() + r0 + n));
          Tensor h = ops::linear(
              t, ops::relu2(t, ops::linear(t, ops::gather_rows(t, x, tok), fc[e])), proj[e]);
          h = ops::mul(t, h, mask.rows(r0, r0 + n));
          parts.push_back(ops::mul(t, h, ops::gather_rows(t, gf, slots)));
        }
        y = ops::scatter_add_rows(t, ops::concat(t, parts, 0), IndexTensor({N * K}, d.token), N);
      }
      t.backward(y, dy);
      Result r{y.to_vector(), x.grad().to_vector(), g.grad().to_vector(), {}, {}, false};
      for (int64_t e = 0; e < 11; ++e) {
        r.dfc.push_back(fc[e].grad().to_vector());
        r.dproj.push_back(proj[e].grad().to_vector());
      }
      r.unchosen_has_grad = fc[11].grad().defined() || proj[11].grad().defined();
      return r;
    };
    const Result a = run(true), b = run(false);
    auto near = [](const std::vector<float>& u, const std::vector<float>& v, const char* what) {
      ASSERT_EQ(u.size(), v.size()) << what;
      for (size_t i = 0; i < u.size(); ++i)
        EXPECT_NEAR(u[i], v[i], 1e-5f * (1.f + std::abs(v[i]))) << what << " " << i;
    };
    near(a.y, b.y, "y");
    near(a.dx, b.dx, "dx");
    near(a.dg, b.dg, "dg");
    for (size_t e = 0; e < a.dfc.size(); ++e) {
      near(a.dfc[e], b.dfc[e], "dW_fc");
      near(a.dproj[e], b.dproj[e], "dW_proj");
    }
    EXPECT_FALSE(a.unchosen_has_grad);
    EXPECT_FALSE(b.unchosen_has_grad);
  }
}

TEST(MoeExperts, BadShapesAreNamed) {
  Tape t;
  std::vector<Tensor> fc, proj;
  make_experts(3, 4, 8, 1, fc, proj);
  const Tensor x = Tensor::zeros({5, 4}), g = Tensor::zeros({5, 1});
  EXPECT_THROW(ops::moe_experts(t, x, g, IndexTensor({5, 1}, {0, 1, 2, 3, 0}), fc, proj),
               Error);  // expert 3
  EXPECT_THROW(
      ops::moe_experts(t, x, g, IndexTensor({5, 2}, std::vector<int32_t>(10, 0)), fc, proj), Error);
  fc[1] = Tensor::zeros({8, 5});
  EXPECT_THROW(ops::moe_experts(t, x, g, IndexTensor({5, 1}, {0, 1, 2, 1, 0}), fc, proj), Error);
}

}  // namespace tinyr2
