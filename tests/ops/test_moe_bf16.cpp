// The routed experts with bf16 products (SPEC §13, train.precision "bf16"; SPEC §2.4, §11):
//   - against the PyTorch oracle (reference/opcases/moe_bf16.py: every expert product on
//     bf16-rounded operands in float64, forward and both backward products), MLP and GLU
//     experts, emulated and (where the CPU has AVX512_BF16) native, 1 and 2 threads; the same
//     case run with fp32 products misses the oracle, so the check can tell the two apart;
//   - native = emulated up to the order of the fp32 sums;
//   - the native result does not depend on the thread count (bit for bit), with many small
//     experts run in parallel and with two large ones whose products are split over threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/cpu_features.h"
#include "core/threads.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;
using testing::random_tensor;
using testing::relative_error;

namespace {

// The oracle rounds the hidden activation A from float64 Z, the kernel from fp32 Z: where Z
// lies next to a bf16 rounding midpoint the two A differ by one bf16 step, so the outputs are
// held to 1e-4 (the products' own fp32 sums are good to ~1e-6). bf16-rounding the operands
// moves the result by ~1e-3, which fp32 products must show (checked below).
constexpr double kOutTol = 1e-4, kGradTol = 2e-4;

std::vector<MatmulPrecision> bf16_precisions() {
  std::vector<MatmulPrecision> p = {{true, false}};
  if (cpu::cpu_features().avx512_bf16) p.push_back({true, true});
  return p;
}

struct Experts {
  std::vector<Tensor> fc, proj, up;
};

Experts experts_of(OpCase& c) {
  Experts x;
  const auto E = c.attr<int64_t>("E");
  for (int64_t e = 0; e < E; ++e) {
    x.fc.push_back(c.in("fc" + std::to_string(e)));
    x.proj.push_back(c.in("proj" + std::to_string(e)));
    if (c.attr<bool>("glu")) x.up.push_back(c.in("up" + std::to_string(e)));
  }
  return x;
}

Tensor run_case(OpCase& c, Tape& tape) {
  const Experts w = experts_of(c);
  return ops::moe_experts(tape, c.in("x"), c.in("g"), c.index("idx"), w.fc, w.proj, Tensor(), w.up,
                          kernels::GluActivation::Silu);
}

}  // namespace

TEST(OpParity, MoeExpertsBf16) {
  int glu_cases = 0;
  for (auto& c : load_op_cases("moe_experts_bf16")) {
    glu_cases += c.attr<bool>("glu");
    for (int nt : {1, 2}) {
      threads::ScopedNumThreads threads_for_this_test(nt);
      for (const MatmulPrecision p : bf16_precisions()) {
        SCOPED_TRACE(c.name + " on " + std::to_string(nt) + " threads, " +
                     (p.native ? "native" : "emulated"));
        for_each_backend(c, [&](OpCase& c, Tape& tape) {
          tape.set_matmul_precision(p);
          check_case(c, tape, {run_case(c, tape)}, kOutTol, kGradTol);
        });
      }
    }
    // The same case with fp32 products is farther from the bf16 oracle than the tolerance.
    Tape fp32;
    const Tensor y = run_case(c, fp32);
    EXPECT_GT(relative_error(y, c.outputs[0]), 3 * kOutTol) << c.name;
  }
  EXPECT_GT(glu_cases, 0);
}

// One random layer's outputs and every gradient, for both expert kinds.
struct LayerRun {
  std::vector<std::vector<float>> values;
};

// Layer shapes: many small experts (in parallel on 2 threads, serial products) or two large
// ones (one after another, each product's tiles split over the threads).
struct LayerShape {
  int64_t N, C, H, E;
};
constexpr LayerShape kManyExperts{48, 40, 72, 8}, kTwoExperts{64, 64, 160, 2};

LayerRun run_layer(bool glu, MatmulPrecision p, int threads_n, LayerShape shape = kManyExperts) {
  threads::ScopedNumThreads threads_for_this_run(threads_n);
  const int64_t N = shape.N, C = shape.C, H = shape.H, E = shape.E, K = 2;
  std::vector<int32_t> idx(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    idx[n * K] = static_cast<int32_t>(n % E);
    idx[n * K + 1] = static_cast<int32_t>((n % E + 1 + n / E % (E - 1)) % E);
  }
  Tensor x = random_tensor({N, C}, 1), g = random_tensor({N, K}, 2);
  x.set_requires_grad(true);
  g.set_requires_grad(true);
  std::vector<Tensor> fc, proj, up;
  for (int64_t e = 0; e < E; ++e) {
    fc.push_back(random_tensor({H, C}, 10 + 3 * e, 0.3f));
    proj.push_back(random_tensor({C, H}, 11 + 3 * e, 0.3f));
    if (glu) up.push_back(random_tensor({H, C}, 12 + 3 * e, 0.3f));
  }
  for (auto* v : {&fc, &proj, &up})
    for (Tensor& t : *v) t.set_requires_grad(true);
  Tape tape;
  tape.set_matmul_precision(p);
  const Tensor y = ops::moe_experts(tape, x, g, IndexTensor({N, K}, idx), fc, proj, Tensor(), up,
                                    kernels::GluActivation::Gelu);
  tape.backward(y, random_tensor({N, C}, 3));
  LayerRun r;
  r.values = {y.to_vector(), x.grad().to_vector(), g.grad().to_vector()};
  for (auto* v : {&fc, &proj, &up})
    for (Tensor& t : *v) r.values.push_back(t.grad().to_vector());
  return r;
}

// max|a−b| / max|b| over each output and gradient.
double worst_relative(const LayerRun& a, const LayerRun& b) {
  double worst = 0;
  EXPECT_EQ(a.values.size(), b.values.size());
  for (size_t k = 0; k < a.values.size(); ++k) {
    double diff = 0, scale = 1e-30;
    for (size_t i = 0; i < a.values[k].size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::abs(a.values[k][i] - b.values[k][i])));
      scale = std::max(scale, static_cast<double>(std::abs(b.values[k][i])));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

TEST(MoeExpertsBf16, NativeMatchesEmulatedAndIgnoresTheThreadCount) {
  if (!cpu::cpu_features().avx512_bf16) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  for (const LayerShape shape : {kManyExperts, kTwoExperts})
    for (bool glu : {false, true}) {
      SCOPED_TRACE(std::string(glu ? "GLU experts, " : "MLP experts, ") + std::to_string(shape.E) +
                   " experts");
      const LayerRun native1 = run_layer(glu, {true, true}, 1, shape),
                     native2 = run_layer(glu, {true, true}, 2, shape);
      EXPECT_EQ(native1.values, native2.values);  // bit for bit
      const LayerRun emulated = run_layer(glu, {true, false}, 1, shape);
      EXPECT_LT(worst_relative(native1, emulated), kOutTol);
      // ... and both differ from fp32 products by the bf16 rounding, not by noise.
      EXPECT_GT(worst_relative(run_layer(glu, {}, 1, shape), emulated), 3 * kOutTol);
    }
}

}  // namespace tinyr2
