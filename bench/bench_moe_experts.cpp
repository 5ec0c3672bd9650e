// The routed experts' fused op alone (ops::moe_experts, SPEC §2.4), forward + backward, in the
// two product precisions of SPEC §13: arg 0 fp32 sgemm, arg 1 bf16 (AVX512_BF16; skipped
// without it). Default-config shapes: n_embd 256, experts of width 1024, 2048 tokens, one
// routed expert each (num_exp 2), 8 experts with 256 tokens each; MLP (relu²) experts.
#include <benchmark/benchmark.h>

#include <vector>

#include "autograd/ops.h"
#include "bench_util.h"
#include "core/cpu_features.h"

namespace tinyr2::bench {

static void BM_moe_experts_fwd_bwd(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  if (bf16 && !cpu::cpu_features().avx512_bf16) {
    state.SkipWithError("no AVX512_BF16");
    return;
  }
  const int64_t N = 2048, C = 256, H = 1024, E = 8;
  std::vector<int32_t> idx(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) idx[n] = static_cast<int32_t>((n * 5 + n / 64) % E);
  Tensor x = random_normal({N, C}, 1), g = random_normal({N, 1}, 2);
  x.set_requires_grad(true);
  std::vector<Tensor> fc, proj;
  for (int64_t e = 0; e < E; ++e) {
    fc.push_back(random_normal({H, C}, 10 + 2 * e, 0.05f));
    proj.push_back(random_normal({C, H}, 11 + 2 * e, 0.05f));
    fc.back().set_requires_grad(true);
    proj.back().set_requires_grad(true);
  }
  const Tensor dy = random_normal({N, C}, 3);
  const IndexTensor ix({N, 1}, idx);
  for (auto _ : state) {
    Tape tape;
    tape.set_matmul_precision({bf16, bf16});
    const Tensor y = ops::moe_experts(tape, x, g, ix, fc, proj);
    tape.backward(y, dy);
    x.zero_grad();
    for (auto* v : {&fc, &proj})
      for (Tensor& t : *v) t.zero_grad();
  }
  set_flops(state, 3 * 2 * 2.0 * N * C * H);
}
BENCHMARK(BM_moe_experts_fwd_bwd)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace tinyr2::bench
