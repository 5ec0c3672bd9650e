// Optimizers (src/optim): Muon, AdamW and Newton–Schulz against the PyTorch reference
// (reference/optim.py via reference/opcases/optim.py), plus property tests: the singular
// values Newton–Schulz leaves, the schedule against its closed form, gradient clipping by
// hand, and checkpoint state round trips.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "optim/muon.h"
#include "optim/schedule.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::load_op_cases;
using testing::OpCase;

using testing::random_tensor;

namespace {

// The case's parameters w0..w{n-1}, copied (the optimizer updates them in place).
optim::NamedParams case_params(OpCase& c) {
  optim::NamedParams params;
  for (int i = 0; i < c.attr<int>("n_params"); ++i) {
    const std::string name = fmt::format("w{}", i);
    params.emplace_back(name, c.in(name).clone());
  }
  return params;
}

// Replays the oracle's steps (reference/opcases/optim.py _run): for step s, parameter i gets
// gradient g{s}_{i}, or none when [s, i] is in "skip"; then opt.step(lrs[s]).
template <typename Optimizer>
void run_case_steps(OpCase& c, Optimizer& opt) {
  std::set<std::pair<int, int>> skip;
  for (const auto& v : c.attrs.at("skip")) skip.insert({v.at(0).get<int>(), v.at(1).get<int>()});
  const auto lrs = c.attr<std::vector<double>>("lrs");
  for (size_t s = 0; s < lrs.size(); ++s) {
    for (size_t i = 0; i < opt.params().size(); ++i) {
      const Tensor& p = opt.params()[i].second;
      if (skip.count({static_cast<int>(s), static_cast<int>(i)})) {
        p.zero_grad();
      } else {
        p.mutable_grad() = c.in(fmt::format("g{}_{}", s, i)).clone();
      }
    }
    opt.step(lrs[s]);
  }
}

// Singular values of a (rows, cols) matrix: square roots of the eigenvalues of the small
// Gram matrix, by cyclic Jacobi rotations in double.
std::vector<double> singular_values(const Tensor& x, int64_t rows, int64_t cols) {
  const bool tall = rows > cols;
  const int64_t n = tall ? cols : rows, k = tall ? rows : cols;
  auto at = [&](int64_t i, int64_t j) {  // element (i, j) of the wide view
    return static_cast<double>(tall ? x.data()[j * cols + i] : x.data()[i * cols + j]);
  };
  std::vector<double> G(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l) G[i * n + j] += at(i, l) * at(j, l);
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += G[p * n + q] * G[p * n + q];
    if (off < 1e-26) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (std::abs(G[p * n + q]) < 1e-300) continue;
        const double theta = (G[q * n + q] - G[p * n + p]) / (2 * G[p * n + q]);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double cs = 1 / std::sqrt(t * t + 1), sn = t * cs;
        for (int64_t r = 0; r < n; ++r) {  // G ← G J (columns p, q)
          const double gp = G[r * n + p], gq = G[r * n + q];
          G[r * n + p] = cs * gp - sn * gq;
          G[r * n + q] = sn * gp + cs * gq;
        }
        for (int64_t r = 0; r < n; ++r) {  // G ← Jᵀ G (rows p, q)
          const double gp = G[p * n + r], gq = G[q * n + r];
          G[p * n + r] = cs * gp - sn * gq;
          G[q * n + r] = sn * gp + cs * gq;
        }
      }
  }
  std::vector<double> sv(n);
  for (int64_t i = 0; i < n; ++i) sv[i] = std::sqrt(std::max(0.0, G[i * n + i]));
  return sv;
}

}  // namespace

// ---------------------------------------------------------------- parity with PyTorch

TEST(OpParity, NewtonSchulz) {
  for (auto& c : load_op_cases("newton_schulz")) {
    Tape tape;
    check_case(c, tape, {optim::newton_schulz(c.in("g"), c.attr<int>("steps"))});
  }
}

TEST(OpParity, MuonStep) {
  for (auto& c : load_op_cases("muon_step")) {
    optim::Muon opt(case_params(c), {.momentum = c.attr<double>("momentum"),
                                     .weight_decay = c.attr<double>("weight_decay")});
    run_case_steps(c, opt);
    std::vector<Tensor> outputs;
    for (const auto& [name, p] : opt.params()) outputs.push_back(p);
    const auto state = opt.state_dict();
    for (const auto& [name, p] : opt.params())
      outputs.push_back(state.at("muon." + name + ".momentum_buffer"));
    Tape tape;
    check_case(c, tape, outputs);
  }
}

TEST(OpParity, AdamWStep) {
  for (auto& c : load_op_cases("adamw_step")) {
    const auto betas = c.attr<std::vector<double>>("betas");
    optim::AdamW opt(case_params(c), {.beta1 = betas.at(0),
                                      .beta2 = betas.at(1),
                                      .eps = c.attr<double>("eps"),
                                      .weight_decay = c.attr<double>("weight_decay")});
    run_case_steps(c, opt);
    std::vector<Tensor> outputs;
    for (const auto& [name, p] : opt.params()) outputs.push_back(p);
    const auto state = opt.state_dict();
    for (const auto& [name, p] : opt.params())
      for (const char* k : {".exp_avg", ".exp_avg_sq", ".step"})
        outputs.push_back(state.at("adamw." + name + k));
    Tape tape;
    check_case(c, tape, outputs);
  }
}

// ---------------------------------------------------------------- Newton–Schulz property

// Five quintic steps map every normalised singular value σ ≥ 0.01 into [0.6818, 1.1344]
// (iterate σ ↦ 3.4445σ − 4.7750σ³ + 2.0315σ⁵). A Gaussian matrix of aspect ratio ≥ 2 has
// σ_min/‖G‖_F well above 0.01, so every singular value of the output lies in that band.
TEST(NewtonSchulz, SingularValuesInQuinticBand) {
  for (auto [rows, cols, seed] : {std::tuple<int64_t, int64_t, uint64_t>{32, 96, 1},
                                  {96, 32, 2},
                                  {64, 200, 3},
                                  {150, 50, 4}}) {
    const Tensor g = random_tensor({rows, cols}, seed);
    const Tensor x = optim::newton_schulz(g, 5);
    const auto sv = singular_values(x, rows, cols);
    ASSERT_EQ(static_cast<int64_t>(sv.size()), std::min(rows, cols));
    for (double s : sv) {
      EXPECT_GE(s, 0.675) << rows << "x" << cols;
      EXPECT_LE(s, 1.14) << rows << "x" << cols;
    }
    // ...and the input's singular values (a Gaussian's spread widely) are not: the test
    // would notice an identity "orthogonalisation".
    const auto sv_in = singular_values(g, rows, cols);
    const auto [lo, hi] = std::minmax_element(sv_in.begin(), sv_in.end());
    EXPECT_GT(*hi / *lo, 2.0);
  }
}

TEST(NewtonSchulz, ScaleInvariantAndTransposeEquivariant) {
  const Tensor g = random_tensor({20, 45}, 7);
  Tensor g_scaled = g.clone(), g_t = Tensor::empty({45, 20});
  for (int64_t i = 0; i < g.numel(); ++i) g_scaled.data()[i] *= 1000.f;
  for (int64_t i = 0; i < 20; ++i)
    for (int64_t j = 0; j < 45; ++j) g_t.data()[j * 20 + i] = g.data()[i * 45 + j];
  const Tensor x = optim::newton_schulz(g), xs = optim::newton_schulz(g_scaled),
               xt = optim::newton_schulz(g_t);
  EXPECT_LE(testing::relative_error(xs, x), 1e-5);
  for (int64_t i = 0; i < 20; ++i)
    for (int64_t j = 0; j < 45; ++j) EXPECT_NEAR(xt.data()[j * 20 + i], x.data()[i * 45 + j], 1e-5);
}

// ---------------------------------------------------------------- Muon / AdamW behaviour

TEST(Muon, RejectsVectorsAndDuplicateNames) {
  EXPECT_THROW(optim::Muon({{"b", Tensor::zeros({8})}}), Error);
  EXPECT_THROW(optim::Muon({{"w", Tensor::zeros({2, 2})}, {"w", Tensor::zeros({2, 2})}}), Error);
  EXPECT_THROW(optim::AdamW({{"w", Tensor::zeros({2})}, {"w", Tensor::zeros({2})}}), Error);
}

TEST(Muon, UpdateHasTheScaledOrthogonalisedSize) {
  // One step from zero momentum: u = (1 − β²) g ∝ g, so p changes by −lr·sqrt(rows/cols)·NS(g).
  const Tensor p0 = random_tensor({60, 20}, 11, 0.02f);
  Tensor p = p0.clone();
  p.mutable_grad() = random_tensor({60, 20}, 12);
  optim::Muon opt({{"w", p}}, {.momentum = 0.95});
  opt.step(0.02);
  const Tensor x = optim::newton_schulz(p.grad());
  const double scale = 0.02 * std::sqrt(3.0);
  for (int64_t i = 0; i < p.numel(); ++i)
    EXPECT_NEAR(p.data()[i], p0.data()[i] - scale * x.data()[i], 1e-6);
}

// Muon steps its parameters in parallel, one parameter per work item: the result must not
// depend on the thread count (bit-identical at 1, 2 and 3 threads), and each parameter must
// get exactly the update a Muon holding only that parameter gives it (no mixing of items).
TEST(Muon, ParallelOverParametersIsBitIdenticalAcrossThreadCounts) {
  const std::vector<Shape> shapes = {{64, 48}, {48, 64}, {20, 20}, {3, 8, 5}, {96, 16}};
  auto run = [&](int nt, bool one_at_a_time) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    optim::NamedParams ps;
    for (size_t i = 0; i < shapes.size(); ++i)
      ps.emplace_back(fmt::format("p{}", i), random_tensor(shapes[i], 200 + i, 0.02f));
    std::vector<std::unique_ptr<optim::Muon>> opts;
    if (one_at_a_time)
      for (const auto& np : ps)
        opts.push_back(std::make_unique<optim::Muon>(optim::NamedParams{np}));
    else
      opts.push_back(std::make_unique<optim::Muon>(ps));
    for (int step = 0; step < 2; ++step) {
      for (size_t i = 0; i < ps.size(); ++i)
        ps[i].second.mutable_grad() = random_tensor(shapes[i], 300 + 10 * step + i);
      for (auto& o : opts) o->step(0.02);
    }
    std::vector<std::vector<float>> out;
    for (const auto& np : ps) out.push_back(np.second.to_vector());
    return out;
  };
  const auto want = run(1, true);
  EXPECT_EQ(run(1, false), want);
  EXPECT_EQ(run(2, false), want);
  EXPECT_EQ(run(3, false), want);
}

// Saving the state after two steps and restoring it into a fresh optimizer (and fresh
// copies of the parameters) makes the third step bit-identical.
template <typename Optimizer, typename Config>
void check_resume(const std::vector<Shape>& shapes, Config config) {
  optim::NamedParams a, b;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string name = fmt::format("p{}", i);
    a.emplace_back(name, random_tensor(shapes[i], 100 + i, 0.02f));
  }
  Optimizer opt_a(a, config);
  auto set_grads = [&](const optim::NamedParams& ps, int step) {
    for (size_t i = 0; i < ps.size(); ++i)
      ps[i].second.mutable_grad() = random_tensor(shapes[i], 1000 + 10 * step + i);
  };
  for (int s = 0; s < 2; ++s) {
    set_grads(a, s);
    opt_a.step(0.01 * (s + 1));
  }
  std::map<std::string, Tensor> saved;
  for (const auto& [k, t] : opt_a.state_dict()) saved[k] = t.clone();
  for (const auto& [name, p] : a) b.emplace_back(name, p.clone());
  Optimizer opt_b(b, config);
  opt_b.load_state_dict(saved, "test");
  set_grads(a, 2);
  set_grads(b, 2);
  opt_a.step(0.03);
  opt_b.step(0.03);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].second.to_vector(), b[i].second.to_vector()) << a[i].first;
  const auto sa = opt_a.state_dict(), sb = opt_b.state_dict();
  for (const auto& [k, t] : sa) EXPECT_EQ(t.to_vector(), sb.at(k).to_vector()) << k;
}

TEST(Muon, StateRoundTripResumesExactly) {
  check_resume<optim::Muon>({{16, 24}, {30, 10}, {3, 4, 5}},
                            optim::MuonConfig{.weight_decay = 0.1});
}

TEST(AdamW, StateRoundTripResumesExactly) {
  check_resume<optim::AdamW>({{16, 24}, {30}, {}}, optim::AdamWConfig{});
}

TEST(AdamW, StateKeysAndStrictLoading) {
  optim::AdamW opt({{"w", Tensor::zeros({3, 2})}, {"b", Tensor::zeros({2})}});
  auto state = opt.state_dict();
  std::set<std::string> keys;
  for (const auto& [k, t] : state) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"adamw.b.exp_avg", "adamw.b.exp_avg_sq", "adamw.b.step",
                                         "adamw.w.exp_avg", "adamw.w.exp_avg_sq", "adamw.w.step"}));
  EXPECT_EQ(state.at("adamw.w.step").dim(), 0);
  std::map<std::string, Tensor> copy;
  for (const auto& [k, t] : state) copy[k] = t.clone();
  copy["muon.other.momentum_buffer"] = Tensor::zeros({4, 4});  // another optimizer's: ignored
  EXPECT_NO_THROW(opt.load_state_dict(copy, "f"));
  auto missing = copy;
  missing.erase("adamw.b.exp_avg");
  EXPECT_THROW(opt.load_state_dict(missing, "f"), Error);
  auto extra = copy;
  extra["adamw.c.exp_avg"] = Tensor::zeros({1});
  EXPECT_THROW(opt.load_state_dict(extra, "f"), Error);
  auto bad_shape = copy;
  bad_shape["adamw.w.exp_avg_sq"] = Tensor::zeros({2, 3});
  EXPECT_THROW(opt.load_state_dict(bad_shape, "f"), Error);
  auto bad_step = copy;
  bad_step["adamw.w.step"] = Tensor::scalar(1.5f);
  EXPECT_THROW(opt.load_state_dict(bad_step, "f"), Error);

  optim::Muon muon({{"w", Tensor::zeros({3, 2})}});
  auto ms = muon.state_dict();
  EXPECT_EQ(ms.size(), 1u);
  EXPECT_TRUE(ms.count("muon.w.momentum_buffer"));
  ms["muon.w.momentum_buffer"] = Tensor::zeros({2, 3});
  EXPECT_THROW(muon.load_state_dict(ms, "f"), Error);
}

TEST(AdamW, WeightDecayOnlyOnMatrices) {
  // With zero gradients the moments stay 0 and the update is the decay alone.
  Tensor w = Tensor::full({2, 3}, 1.f), b = Tensor::full({3}, 1.f), s = Tensor::scalar(1.f);
  for (const Tensor& t : {w, b, s}) t.mutable_grad() = Tensor::zeros(t.shape());
  optim::AdamW opt({{"w", w}, {"b", b}, {"s", s}}, {.weight_decay = 0.1});
  opt.step(0.5);
  for (float v : w.to_vector()) EXPECT_FLOAT_EQ(v, 1.f - 0.5f * 0.1f);
  for (float v : b.to_vector()) EXPECT_EQ(v, 1.f);
  EXPECT_EQ(s.item(), 1.f);
  EXPECT_TRUE(optim::adamw_decays(w));
  EXPECT_FALSE(optim::adamw_decays(b));
}

// ---------------------------------------------------------------- schedule

TEST(Schedule, MatchesClosedForm) {
  const double lr = 1e-3, min_lr = 1e-4;
  const int64_t W = 20, N = 200;
  for (int64_t e = 0; e < W; ++e)
    EXPECT_DOUBLE_EQ(optim::lr_at(e, lr, min_lr, W, N), lr * (e + 1) / 20.0) << e;
  EXPECT_DOUBLE_EQ(optim::lr_at(0, lr, min_lr, W, N), 5e-5);
  EXPECT_DOUBLE_EQ(optim::lr_at(19, lr, min_lr, W, N), 1e-3);
  EXPECT_DOUBLE_EQ(optim::lr_at(20, lr, min_lr, W, N), 1e-3);       // cos(0)
  EXPECT_NEAR(optim::lr_at(110, lr, min_lr, W, N), 5.5e-4, 1e-15);  // halfway: the mean
  EXPECT_NEAR(optim::lr_at(65, lr, min_lr, W, N),                   // a quarter: cos(π/4)
              1e-4 + 0.5 * (1 + std::numbers::sqrt2 / 2) * 9e-4, 1e-15);
  EXPECT_DOUBLE_EQ(optim::lr_at(200, lr, min_lr, W, N), 1e-4);
  EXPECT_DOUBLE_EQ(optim::lr_at(5000, lr, min_lr, W, N), 1e-4);
  for (int64_t e = W; e < N; ++e) {
    const double x = std::numbers::pi * (e - 20) / 180.0;
    EXPECT_NEAR(optim::lr_at(e, lr, min_lr, W, N), min_lr + 0.5 * (1 + std::cos(x)) * (lr - min_lr),
                1e-18);
    EXPECT_LE(optim::lr_at(e + 1, lr, min_lr, W, N), optim::lr_at(e, lr, min_lr, W, N));
  }
  // No warmup: cosine from the first step.
  EXPECT_DOUBLE_EQ(optim::lr_at(0, lr, min_lr, 0, N), lr);
  // Warmup longer than the run: warmup only, then min_lr.
  EXPECT_DOUBLE_EQ(optim::lr_at(9, lr, min_lr, 10, 5), lr);
  EXPECT_DOUBLE_EQ(optim::lr_at(10, lr, min_lr, 10, 5), min_lr);
}

TEST(Schedule, MuonFollowsTheSameMultiplier) {
  const double lr = 1e-3, min_lr = 1e-4, muon_lr = 0.02;
  for (int64_t e : {0, 7, 19, 20, 50, 110, 199, 200, 300}) {
    const double m = optim::lr_multiplier(e, lr, min_lr, 20, 200);
    EXPECT_NEAR(m * lr, optim::lr_at(e, lr, min_lr, 20, 200), 1e-18);
    if (e < 20) {
      EXPECT_NEAR(muon_lr * m, muon_lr * (e + 1) / 20.0, 1e-15);
    }
  }
  EXPECT_NEAR(muon_lr * optim::lr_multiplier(500, lr, min_lr, 20, 200), 0.002, 1e-15);
  EXPECT_DOUBLE_EQ(optim::lr_multiplier(20, lr, min_lr, 20, 200), 1.0);
  EXPECT_DOUBLE_EQ(optim::lr_multiplier(110, 0.0, 0.0, 20, 200), 0.5);  // lr = 0: cosine to 0
}

// ---------------------------------------------------------------- gradient clipping

TEST(GradClip, ScalesToMaxNormByHand) {
  Tensor a = Tensor::zeros({2}), b = Tensor::zeros({1, 1}), c = Tensor::zeros({3});
  a.mutable_grad() = Tensor::from_vector({2}, {3.f, 4.f});
  b.mutable_grad() = Tensor::from_vector({1, 1}, {12.f});
  // c has no gradient: skipped. Norm = sqrt(9 + 16 + 144) = 13.
  EXPECT_DOUBLE_EQ(optim::grad_norm({a, b, c}), 13.0);
  const double norm = optim::clip_grad_norm({a, b, c}, 6.5);
  EXPECT_DOUBLE_EQ(norm, 13.0);
  const float s = static_cast<float>(6.5 / (13.0 + 1e-6));
  EXPECT_FLOAT_EQ(a.grad().data()[0], 3.f * s);
  EXPECT_FLOAT_EQ(a.grad().data()[1], 4.f * s);
  EXPECT_FLOAT_EQ(b.grad().data()[0], 12.f * s);
  EXPECT_NEAR(optim::grad_norm({a, b, c}), 6.5, 1e-5);
  EXPECT_FALSE(c.grad().defined());
}

TEST(GradClip, LeavesSmallNormsAndDisabledClippingAlone) {
  Tensor a = Tensor::zeros({2});
  a.mutable_grad() = Tensor::from_vector({2}, {3.f, 4.f});
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a}, 5.0), 5.0);  // norm == max: untouched
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{3.f, 4.f}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a}, 7.0), 5.0);  // below max: untouched
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{3.f, 4.f}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a}, 0.0), 5.0);  // max_norm 0: no clipping
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{3.f, 4.f}));
}

TEST(GradClip, NonFiniteNormIsReportedNotApplied) {
  Tensor a = Tensor::zeros({3}), b = Tensor::zeros({2});
  a.mutable_grad() = Tensor::from_vector({3}, {1.f, NAN, 2.f});
  b.mutable_grad() = Tensor::from_vector({2}, {100.f, 100.f});
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm({a, b}, 1.0)));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{100.f, 100.f}));
  a.mutable_grad() = Tensor::from_vector({3}, {1.f, INFINITY, 2.f});
  EXPECT_TRUE(std::isinf(optim::clip_grad_norm({a, b}, 1.0)));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{100.f, 100.f}));
}

TEST(GradClip, LargeGradientsDoubleAccumulation) {
  // 10^6 values of 1e-3 and one of 1e3 (Σ = 10^6 + 1): checked to 1e-9 relative.
  Tensor a = Tensor::zeros({1000000}), b = Tensor::zeros({1});
  a.mutable_grad() = Tensor::full({1000000}, 1e-3f);
  b.mutable_grad() = Tensor::full({1}, 1e3f);
  const double expect = std::sqrt(1e6 * static_cast<double>(1e-3f) * 1e-3f + 1e6);
  EXPECT_NEAR(optim::grad_norm({b, a}), expect, 1e-9 * expect);
  optim::NamedParams named{{"a", a}, {"b", b}};
  EXPECT_NEAR(optim::clip_grad_norm(named, 1.0), expect, 1e-9 * expect);
  EXPECT_NEAR(optim::grad_norm({a, b}), 1.0, 1e-5);
}

}  // namespace tinyr2
