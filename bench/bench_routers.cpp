// SPEC §11 routers, one MoE layer in training (forward + backward) at n_embd 256, experts
// of width 4·C = 1024, B·T = 2048 tokens:
//   BM_router_layer/<router>/<experts>   topk with 8 and 64 experts, attention with 8
//   BM_router_ratios                     A/B interleaved in one loop (the machine may be
//                                        shared): counters topk_64_vs_8 (target ≤ 1.3) and
//                                        attention_vs_topk (router overhead, target ≤ 1.10)
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "autograd/ops.h"
#include "bench_util.h"
#include "nn/moe.h"

namespace tinyr2::bench {

namespace {

class RouterLayer {
 public:
  RouterLayer(const std::string& router, int64_t experts, int64_t num_exp, int64_t tokens = 2048,
              int64_t C = 256)
      : cfg_(nn::ModelConfig::from_json(nlohmann::json{{"n_embd", C},
                                                       {"n_head", 1},
                                                       {"n_experts", experts},
                                                       {"num_exp", num_exp},
                                                       {"router", router}})),
        rng_(7) {
    moe_ = std::make_unique<nn::DSMoE>(params_, "ffn.", cfg_);
    params_.init_all(1);
    const int64_t T = 256;
    x_ = random_normal({tokens / T, T, C}, 2);
    dy_ = random_normal({tokens / T, T, C}, 3);
    x_.set_requires_grad(true);
  }

  void run() {
    Tape tape;
    nn::ForwardContext ctx(tape);
    ctx.training = true;
    ctx.rng = &rng_;
    Tensor y = moe_->forward(ctx, x_);
    tape.backward(y, dy_);
    for (const auto& e : params_.all()) {
      Tensor t = e.tensor;
      t.zero_grad();
    }
    x_.zero_grad();
    moe_->reset_counts();
  }

 private:
  nn::Parameters params_;
  nn::ModelConfig cfg_;
  Rng rng_;
  std::unique_ptr<nn::DSMoE> moe_;
  Tensor x_, dy_;
};

double seconds_of(RouterLayer& l) {
  const auto t0 = std::chrono::steady_clock::now();
  l.run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

static void BM_router_layer(benchmark::State& state) {
  static const char* kRouters[] = {"topk", "attention"};
  RouterLayer layer(kRouters[state.range(0)], state.range(1), 2);
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
  RouterLayer topk8("topk", 8, 2), topk64("topk", 64, 2), attn8("attention", 8, 2);
  for (RouterLayer* l : {&topk8, &topk64, &attn8}) l->run();  // warm-up
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
