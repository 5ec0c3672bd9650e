// The manifold-constrained hyper-connections' stream mix (kernels/cpu/stream_mix.h, SPEC §9)
// at the default config's sizes: N = 8·256 tokens, S = 4 streams, C = 256. One mHC branch
// mixes three times: u = Σ_s H_pre[s] R_s (M (4, 1)), Σ_s H_res[s,t] R_s (M (4, 4)) and
// H_post[t] h (M (1, 4)); the benchmark runs the (4, 4) mix forward and backward (dR and the
// shared dM, whose N·S·T dot products over C are the backward's reduction).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "kernels/cpu/stream_mix.h"

namespace tinyr2::bench {

namespace {
constexpr int64_t kN = 8 * 256, kS = 4, kT = 4, kC = 256;
}

static void BM_stream_mix_fwd_bwd(benchmark::State& state) {
  Tensor R = random_normal({kN, kS, kC}, 1), M = random_normal({kS, kT}, 2),
         g = random_normal({kN, kT, kC}, 3);
  Tensor out = Tensor::empty({kN, kT, kC}), dR = Tensor::zeros(R.shape()),
         dM = Tensor::zeros(M.shape());
  for (auto _ : state) {
    kernels::cpu::stream_mix_forward(R.data(), M.data(), out.data(), kN, kS, kT, kC, false);
    kernels::cpu::stream_mix_backward(R.data(), M.data(), g.data(), dR.data(), dM.data(), kN, kS,
                                      kT, kC, false);
    benchmark::DoNotOptimize(dM.data());
  }
  // Multiply-adds: forward N·T·S·C, dR N·S·T·C, dM N·S·T·C.
  set_flops(state, 3 * 2.0 * kN * kS * kT * kC);
}
BENCHMARK(BM_stream_mix_fwd_bwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace tinyr2::bench
