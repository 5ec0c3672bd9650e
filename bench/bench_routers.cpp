// SPEC §11 routers, one MoE layer in training (forward + backward) at n_embd 256, experts
// of width 4·C = 1024, B·T = 2048 tokens:
//   BM_router_layer/<router>/<experts>   topk with 8 and 64 experts, attention with 8
//   BM_router_ratios                     A/B interleaved in one loop (the machine may be
//                                        shared): counters topk_64_vs_8 (target ≤ 1.3) and
//                                        attention_vs_topk (router overhead, target ≤ 1.10)
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "moe_layer_harness.h"

namespace tinyr2::bench {

namespace {

// A topk or attention router's layer with `experts` experts, num_exp 2.
MoeLayerHarness router_layer(const std::string& router, int64_t experts) {
  return MoeLayerHarness({{"n_experts", experts}, {"num_exp", 2}, {"router", router}});
}

double seconds_of(MoeLayerHarness& l) {
  const auto t0 = std::chrono::steady_clock::now();
  l.run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

static void BM_router_layer(benchmark::State& state) {
  static const char* kRouters[] = {"topk", "attention"};
  MoeLayerHarness layer = router_layer(kRouters[state.range(0)], state.range(1));
  for (auto _ : state) layer.run();
  state.SetLabel(kRouters[state.range(0)]);
}
BENCHMARK(BM_router_layer)
    ->Args({0, 8})
    ->Args({0, 64})
    ->Args({1, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Interleaved A B A B … in one loop; the counters are ratios of summed times.
static void BM_router_ratios(benchmark::State& state) {
  MoeLayerHarness topk8 = router_layer("topk", 8), topk64 = router_layer("topk", 64),
                  attn8 = router_layer("attention", 8);
  for (MoeLayerHarness* l : {&topk8, &topk64, &attn8}) l->run();  // warm-up
  double t8 = 0, t64 = 0, ta = 0;
  for (auto _ : state) {
    t8 += seconds_of(topk8);
    t64 += seconds_of(topk64);
    ta += seconds_of(attn8);
  }
  state.counters["topk_64_vs_8"] = t64 / t8;
  state.counters["attention_vs_topk"] = ta / t8;
}
BENCHMARK(BM_router_ratios)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);

}  // namespace tinyr2::bench
