#include "bench/compare/arithmetic.h"

#include <fmt/format.h>

#include "bench/compare/output.h"
#include "bench/timing.h"
#include "bench/workloads.h"
#include "nn/model.h"
#include "train/trainer.h"

namespace tinyr2::bench_compare {

Ratios training_arithmetic(const RoundResults& res, const Inputs& in, double ceiling) {
  const nn::Model model(in.rc.model);
  const int64_t T = in.rc.model.ctx_len;
  const auto tokens_per_step =
      static_cast<double>(in.rc.train.batch_size * T * in.rc.train.grad_accum);
  const bench::ModelFlops f = bench::training_flops(model, T);
  const double model_flops = f.per_token * tokens_per_step;
  const double muon_flops = bench::muon_flops_per_step(train::partition_parameters(model));
  const double step_flops = model_flops + muon_flops;
  const double ours = step_flops * bench::median(res.ours.train_tps) / tokens_per_step / 1e9;
  const double torch = step_flops * bench::median(res.torch.train_tps) / tokens_per_step / 1e9;
  const double bound = ceiling / torch;
  say("");
  say(fmt::format(
      "training step arithmetic ({}): {} model FLOP (6·{} active parameters + {} in the "
      "sequence mixers, per token × {} tokens) + {} in Muon's Newton–Schulz = {} FLOP per step",
      in.config, human(model_flops), human(static_cast<double>(f.n_active)),
      human(f.attention_per_token), tokens_per_step, human(muon_flops), human(step_flops)));
  say(fmt::format(
      "  achieved: tinyr2 {:.4g} GFLOP/s ({:.0f}% of the sgemm ceiling {:.1f}), PyTorch {:.4g} "
      "GFLOP/s ({:.0f}%)",
      ours, 100 * ours / ceiling, ceiling, torch, 100 * torch / ceiling));
  say(fmt::format(
      "  so train_speedup can be at most {:.1f} / {:.4g} = {:.2f}x on this machine (a step at "
      "the sgemm ceiling against PyTorch's step as measured)",
      ceiling, torch, bound));
  return {{"train_speedup_bound", bound}};
}

}  // namespace tinyr2::bench_compare
