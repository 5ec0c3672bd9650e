// The optimizer and expert-bias kernels behind the backend (kernels/cpu/optim, kernels/cpu/moe):
// every element against its formula in double, at sizes above the kernels' parallel threshold
// and on 1 and 2 threads. Each element may differ from the double value by a few float
// roundings of its terms (g++ may contract a·b + c into an FMA), never more. (That moving the
// loops into kernels changed no bit was checked by training with the old and the new binary:
// identical checkpoints.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/threads.h"
#include "kernels/backend.h"
#include "support/random_tensor.h"

namespace tinyr2 {
namespace {

using testing::random_tensor;

constexpr int64_t kN = 100003;  // above the kernels' parallel threshold (2^15), odd

const kernels::Backend& cpu() {
  return kernels::backend(Device::CPU);
}

// |got − want| within 8 float epsilons of `scale` (the sum of the magnitudes of the terms).
void expect_close(float got, double want, double scale, const char* what, int64_t i) {
  const double tol = 8 * 1.1920929e-7 * scale + 1e-30;
  if (std::abs(static_cast<double>(got) - want) > tol)
    ADD_FAILURE() << what << " at " << i << ": " << got << " vs " << want << " (tolerance " << tol
                  << ")";
}
TEST(OptimKernels, AdamWUpdateMatchesTheFormula) {
  const kernels::AdamWStep s{0.9f, 0.95f, 1.f - 0.9f, 1.f - 0.95f, 1e-8f, 0.999f, 3e-3f, 0.31f};
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor p = random_tensor({kN}, 1), g = random_tensor({kN}, 2);
    Tensor m = random_tensor({kN}, 3, 0.1f), v = random_tensor({kN}, 4, 0.1f);
    for (int64_t i = 0; i < kN; ++i) v.data()[i] = std::abs(v.data()[i]);
    const std::vector<float> p0 = p.to_vector(), m0 = m.to_vector(), v0 = v.to_vector();
    cpu().adamw_update(p.data(), g.data(), m.data(), v.data(), kN, s);
    for (int64_t i = 0; i < kN; ++i) {
      const double gi = g.data()[i];
      const double me = s.b1 * double{m0[i]} + s.one_minus_b1 * gi;
      const double ve = s.b2 * double{v0[i]} + s.one_minus_b2 * gi * gi;
      const double step = s.step_size * me / (std::sqrt(ve) / s.bc2_sqrt + s.eps);
      expect_close(m.data()[i], me, std::abs(s.b1 * m0[i]) + std::abs(s.one_minus_b1 * gi),
                   "exp_avg", i);
      expect_close(v.data()[i], ve, ve, "exp_avg_sq", i);
      expect_close(p.data()[i], p0[i] * double{s.decay} - step,
                   std::abs(p0[i] * double{s.decay}) + 4 * std::abs(step), "param", i);
    }
  }
}

TEST(OptimKernels, MuonMomentumAndScaledUpdateMatchTheFormula) {
  const float beta = 0.95f, omb = 1.f - beta, decay = 0.998f, alpha = 0.02f;
  for (int nt : {1, 2}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor g = random_tensor({kN}, 5), m = random_tensor({kN}, 6), p = random_tensor({kN}, 7);
    Tensor u = Tensor::empty({kN});
    const std::vector<float> m0 = m.to_vector(), p0 = p.to_vector();
    cpu().muon_momentum(g.data(), m.data(), u.data(), kN, beta, omb);
    cpu().scaled_update(p.data(), u.data(), kN, decay, alpha);
    for (int64_t i = 0; i < kN; ++i) {
      const double gi = g.data()[i];
      const double me = beta * double{m0[i]} + omb * gi;
      const double ue = omb * gi + beta * me;  // Nesterov: the update direction
      const double scale_m = std::abs(beta * m0[i]) + std::abs(omb * gi);
      expect_close(m.data()[i], me, scale_m, "momentum", i);
      expect_close(u.data()[i], ue, std::abs(omb * gi) + 2 * scale_m, "update", i);
      // p from the kernel's own u (the update was checked above).
      expect_close(p.data()[i], p0[i] * double{decay} - alpha * double{u.data()[i]},
                   std::abs(p0[i] * decay) + std::abs(alpha * u.data()[i]), "param", i);
    }
  }
}

TEST(OptimKernels, ScaleInPlaceAndSumSquares) {
  Tensor x = random_tensor({kN}, 8);
  double ss = 0;
  for (int64_t i = 0; i < kN; ++i) ss += static_cast<double>(x.data()[i]) * x.data()[i];
  EXPECT_NEAR(cpu().sum_squares(x.data(), kN), ss, 1e-9 * ss);
  const std::vector<float> x0 = x.to_vector();
  cpu().scale_in_place(x.data(), kN, 0.37f);
  for (int64_t i = 0; i < kN; ++i)  // one rounding: exactly the float product
    ASSERT_EQ(x.data()[i], static_cast<float>(double{x0[i]} * double{0.37f})) << i;
}

TEST(MoeKernels, UpdateBiasMovesTowardTheMeanLoad) {
  // counts 1, 5, 3, 3 (mean 3): under-used experts rise by the rate, over-used fall, the
  // average ones stay.
  std::vector<float> bias = {0.5f, 0.5f, -0.25f, 0.f};
  const std::vector<int64_t> counts = {1, 5, 3, 3};
  cpu().moe_update_bias(bias.data(), counts.data(), 4, 0.125f);
  EXPECT_EQ(bias, (std::vector<float>{0.625f, 0.375f, -0.25f, 0.f}));
}

}  // namespace
}  // namespace tinyr2
