#include "bench/compare/micro.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bench/compare/output.h"
#include "bench/timing.h"
#include "bench/workloads.h"
#include "core/blas_kernel.h"
#include "core/cpu_features.h"

namespace tinyr2::bench_compare {

namespace {

void row(const std::string& name, double seconds, const std::string& r) {
  say(fmt::format("{:<62} {:>12} {:>16}", name, duration(seconds), r));
}

// One attention layer, FULL vs NSA, forward + backward at B=1, T=t; returns FULL time / NSA
// time.
double attention_ratio(int64_t t, double min_time) {
  progress(fmt::format("micro: attention layer FULL vs NSA at T={} ...", t));
  bench::AttentionLayerWorkload full(bench::AttentionKind::Full, t);
  bench::AttentionLayerWorkload nsa(bench::AttentionKind::Nsa, t);
  const auto tm = bench::time_interleaved({[&] { full.run(); }, [&] { nsa.run(); }}, min_time, 3);
  const double tt = static_cast<double>(t);
  row(fmt::format("attention layer fwd+bwd, FULL, B=1 T={}", t), tm[0].median_s,
      human(tt / tm[0].median_s) + " tok/s");
  row(fmt::format("attention layer fwd+bwd, NSA,  B=1 T={}", t), tm[1].median_s,
      human(tt / tm[1].median_s) + " tok/s");
  const double ratio = tm[0].median_s / tm[1].median_s;
  say(fmt::format("  FULL time / NSA time at T={}: {:.2f}x", t, ratio));
  return ratio;
}

// One DSMoE layer at 8, 32, 64 experts, num_exp 2; returns 64-expert time / 8-expert time.
double moe_ratio(int64_t tokens, double min_time) {
  progress("micro: DSMoE layer with 8, 32, 64 experts ...");
  const int64_t counts[3] = {8, 32, 64};
  std::vector<std::unique_ptr<bench::MoELayerWorkload>> w;
  std::vector<std::function<void()>> fns;
  for (int64_t e : counts) {
    w.push_back(std::make_unique<bench::MoELayerWorkload>(e, 2, tokens, 256));
    bench::MoELayerWorkload* p = w.back().get();
    fns.push_back([p] { p->run(); });
  }
  const auto tm = bench::time_interleaved(fns, min_time, 3);
  for (size_t i = 0; i < 3; ++i)
    row(fmt::format("DSMoE layer fwd+bwd, {} experts, num_exp 2, {} tokens, C=256", counts[i],
                    tokens),
        tm[i].median_s, human(static_cast<double>(tokens) / tm[i].median_s) + " tok/s");
  const double ratio = tm[2].median_s / tm[0].median_s;
  say(fmt::format("  64-expert time / 8-expert time: {:.2f}x", ratio));
  return ratio;
}

// The best sgemm GFLOP/s and its size over o.gemm_n.
struct Ceiling {
  double gflops = 0;
  int64_t n = 1;
  std::string kernel;
};

void take_best(Ceiling& c, double gflops, int64_t n, const std::string& kernel = "") {
  if (gflops > c.gflops) c = {gflops, n, kernel};
}

// The sgemm ceilings, in kCeilingRounds rounds that each time tinyr2's gemm (its own gemm
// path, kernels/cpu/gemm_paths.h, in this process) and then raw cblas_sgemm on every OpenBLAS
// core type the CPU supports (each in a child process started with OPENBLAS_CORETYPE set,
// `bench blas-sgemm`), at the same sizes; each side keeps its best. The rounds interleave the
// two sides, so a slow spell of the machine does not land on one side only (on AVX2 both
// sides run the same Haswell kernel, and one round apiece read 0.88–1.06). Prints the rows
// and `gemm_vs_best_kernel`; returns {tinyr2's ceiling (the MFU's and the bound's), ratio}.
constexpr int kCeilingRounds = 2;

std::pair<double, double> sgemm_ceilings(const CompareOptions& o, const Inputs& in, int threads,
                                         const Scratch& scratch) {
  progress("micro: sgemm ceiling, tinyr2's gemm and raw OpenBLAS per core type ...");
  const double per_size = std::min(o.min_time, 1.0);  // seconds per size, at least
  const std::vector<std::string> argv = {in.self,
                                         "-t",
                                         std::to_string(threads),
                                         "bench",
                                         "blas-sgemm",
                                         "--n",
                                         fmt::format("{}", fmt::join(o.gemm_n, ",")),
                                         "--min-time",
                                         fmt::format("{}", per_size)};
  const std::vector<std::string> types = blas::candidate_coretypes(cpu::cpu_features());
  Ceiling ours, best;
  std::vector<Ceiling> per_type(types.size());
  for (int round = 0; round < kCeilingRounds; ++round) {
    for (int64_t n : o.gemm_n) take_best(ours, bench::sgemm_gflops(n, per_size), n);
    for (size_t t = 0; t < types.size(); ++t) {
      const std::string what =
          fmt::format("tinyr2 bench blas-sgemm (OPENBLAS_CORETYPE={})", types[t]);
      // Unsetting the marker makes the child take OPENBLAS_CORETYPE as the user's.
      const ChildRun c =
          run_child(argv, scratch, what, {"OPENBLAS_CORETYPE=" + types[t], "TINYR2_BLAS_SELECTED"});
      take_best(per_type[t], number(c.result, "gflops", what), c.result.value("n", int64_t{1}),
                c.result.value("kernel", types[t]));
    }
  }
  std::vector<std::string> each;
  for (const Ceiling& c : per_type) {
    each.push_back(fmt::format("{} {:.4g}", c.kernel, c.gflops));
    take_best(best, c.gflops, c.n, c.kernel);
  }
  auto cube = [](int64_t n) { return 2.0 * static_cast<double>(n) * n * n; };
  row(fmt::format("sgemm ceiling, tinyr2's gemm (best of n = {})", fmt::join(o.gemm_n, ", ")),
      cube(ours.n) / (ours.gflops * 1e9), fmt::format("{:.1f} GFLOP/s", ours.gflops));
  row(fmt::format("OpenBLAS sgemm ceiling, best core type: {}", best.kernel),
      cube(best.n) / (best.gflops * 1e9), fmt::format("{:.1f} GFLOP/s", best.gflops));
  say(fmt::format("  raw cblas_sgemm GFLOP/s per OPENBLAS_CORETYPE (child processes): {}",
                  fmt::join(each, ", ")));
  say(fmt::format("  (each side: its best of {} interleaved rounds)", kCeilingRounds));
  const double ratio = ours.gflops / best.gflops;
  say(
      fmt::format("  gemm_vs_best_kernel = {:.4g} / {:.4g} GFLOP/s = {:.4g} (tinyr2's gemm "
                  "paths ÷ the best OpenBLAS core type)",
                  ours.gflops, best.gflops, ratio));
  return {ours.gflops, ratio};
}

// The MFU of the dense512 training step against `ceiling` (GFLOP/s), with its arithmetic.
double dense512_mfu(const CompareOptions& o, double ceiling) {
  progress("micro: dense n_embd 512 training step ...");
  bench::TrainStepWorkload w(bench::dense512_config(o.mfu_batch, o.mfu_ctx));
  // Steady state: the first steps also allocate the optimizer state and grow the heap to
  // its working size (page faults: steps 1-4 take up to 1.5x longer than later ones), so
  // three untimed steps first (two here, one in time_interleaved), then the median.
  for (int i = 0; i < 2; ++i) w.run();
  const auto tm = bench::time_interleaved({[&] { w.run(); }}, o.min_time, 5)[0];
  const bench::ModelFlops f = bench::training_flops(w.model(), w.model().cfg.ctx_len);
  const double flops = f.per_token * static_cast<double>(w.tokens_per_step());
  const double achieved = flops / tm.median_s / 1e9;
  const double mfu = achieved / ceiling;
  row(fmt::format("dense512 training step, batch {} × {} (median of {})", o.mfu_batch, o.mfu_ctx,
                  tm.calls),
      tm.median_s, fmt::format("{:.1f} GFLOP/s", achieved));
  say(fmt::format(
      "  dense512: n_embd 512, n_head 8, n_layer 4, ctx_len {}, every layer FULL attention "
      "+ MLP, hc false, vocab 50257; step = forward + backward + clip + Muon/AdamW",
      o.mfu_ctx));
  say(
      fmt::format("  model FLOPs per token = 6·N + 12·n_layer·T·C/2 with N = non-embedding active "
                  "parameters + V·C (tied head) = {}: 6·{} + {} = {} FLOP",
                  human(static_cast<double>(f.n_active)), f.n_active, human(f.attention_per_token),
                  human(f.per_token)));
  say(fmt::format("  MFU = {:.1f} GFLOP/s / {:.1f} GFLOP/s (sgemm ceiling) = {:.1f}%", achieved,
                  ceiling, 100 * mfu));
  const double muon = bench::muon_flops_per_step(w.trainer().groups());
  say(fmt::format(
      "  not counted: Muon's Newton–Schulz, {} FLOP per step ({:.0f}% on top of the step's {} "
      "model FLOP)",
      human(muon), 100 * muon / flops, human(flops)));
  return mfu;
}

void print_reduced_sizes_note(const CompareOptions& o) {
  if (o.micro_t[0] == 512 && o.micro_t[1] == 32768 && o.moe_tokens == 2048 && o.mfu_batch == 4 &&
      o.mfu_ctx == 512)
    return;
  say(
      fmt::format("note: reduced micro-benchmark sizes: nsa_vs_full_512 is measured at T={}, "
                  "nsa_vs_full_32k at T={}, moe at {} tokens, mfu_dense512 at batch {} × {}",
                  o.micro_t[0], o.micro_t[1], o.moe_tokens, o.mfu_batch, o.mfu_ctx));
}

}  // namespace

MicroResults run_micro_benchmarks(const CompareOptions& o, const Inputs& in, int threads,
                                  const Scratch& scratch) {
  say("");
  if (o.skip_micro) {
    say("micro-benchmarks skipped (--skip-micro)");
    return {};
  }
  say(fmt::format(
      "micro-benchmarks (tinyr2, {} threads; median time per call over >= {:g} s and >= 3 "
      "calls after a warm-up call; compared workloads run interleaved)",
      threads, o.min_time));
  say(fmt::format("{:<62} {:>12} {:>16}", "benchmark", "time", "rate"));
  const double nsa_short = attention_ratio(o.micro_t[0], o.min_time);
  const double nsa_long = attention_ratio(o.micro_t[1], o.min_time);
  const double moe = moe_ratio(o.moe_tokens, o.min_time);
  const auto [ceiling, gemm] = sgemm_ceilings(o, in, threads, scratch);
  const double mfu = dense512_mfu(o, ceiling);
  print_reduced_sizes_note(o);
  return {{{"nsa_vs_full_32k", nsa_long},
           {"nsa_vs_full_512", nsa_short},
           {"moe_64_vs_8", moe},
           {"mfu_dense512", mfu},
           {"gemm_vs_best_kernel", gemm}},
          ceiling};
}

}  // namespace tinyr2::bench_compare
