// One DSMoE layer (SPEC §11) in training, forward + backward, for the MoE benchmarks
// (bench_moe_experts.cpp, bench_routers.cpp): n_embd C, experts of width 4·C, `tokens` tokens
// as sequences of 256, parameters initialised with seed 1. `config` holds the layer's own
// ModelConfig keys (n_experts, num_exp, router, …); n_embd and n_head are set here.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "bench_util.h"
#include "nn/moe.h"

namespace tinyr2::bench {

class MoeLayerHarness {
 public:
  explicit MoeLayerHarness(nlohmann::json config, int64_t tokens = 2048, int64_t C = 256)
      : cfg_(with_width(std::move(config), C)), rng_(7) {
    moe_ = std::make_unique<nn::DSMoE>(params_, "ffn.", cfg_);
    params_.init_all(1);
    const int64_t T = 256;
    x_ = random_normal({tokens / T, T, C}, 2);
    dy_ = random_normal({tokens / T, T, C}, 3);
    x_.set_requires_grad(true);
  }
  // Built in place (the layer refers to params_): no copies, no moves.
  MoeLayerHarness(const MoeLayerHarness&) = delete;
  MoeLayerHarness& operator=(const MoeLayerHarness&) = delete;

  // One training forward + backward with the products in `precision` (SPEC §13), then the
  // gradients and the routing counts cleared for the next run.
  void run(MatmulPrecision precision = {}) {
    Tape tape;
    tape.set_matmul_precision(precision);
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
  static nn::ModelConfig with_width(nlohmann::json config, int64_t C) {
    config["n_embd"] = C;
    config["n_head"] = 1;
    return nn::ModelConfig::from_json(config);
  }

  nn::Parameters params_;
  nn::ModelConfig cfg_;
  Rng rng_;
  std::unique_ptr<nn::DSMoE> moe_;
  Tensor x_, dy_;
};

}  // namespace tinyr2::bench
