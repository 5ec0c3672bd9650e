#include "bench/compare/report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "bench/compare/output.h"
#include "bench/timing.h"
#include "nn/model.h"

namespace tinyr2::bench_compare {

namespace {

double max_of(const std::vector<int64_t>& v) {
  return static_cast<double>(*std::max_element(v.begin(), v.end()));
}

std::string micro_batches(int64_t ga) {
  return ga > 1 ? fmt::format(" × {} micro-batches", ga) : "";
}

// The notes [1]-[3] under the table.
void print_notes(const RoundResults& res, const Inputs& in, const CompareOptions& o) {
  const int64_t B = in.rc.train.batch_size, T = in.rc.model.ctx_len, ga = in.rc.train.grad_accum;
  say(fmt::format(
      "[1] {} tokens per step (batch {} × ctx_len {}{}) of uniform random tokens; a step is "
      "forward, backward, global-norm clip, Muon + AdamW (tinyr2: train::Trainer; PyTorch: "
      "reference/train.py train() with reference/optim.py), float32, gate noise on; after {} "
      "warm-up steps. Values: median over the rounds; ratio: median of the per-round ratios "
      "(each round runs both sides back to back): {:.2f}.",
      B * T * ga, B, T, micro_batches(ga), o.warmup, fmt::join(res.train_ratio, ", ")));
  say(fmt::format(
      "[2] greedy, random weights, {}-token random prompt, {} tokens; tokens/s = forwards after "
      "the prefill / their time. tinyr2 decodes with its KV cache (one position per token). "
      "The PyTorch reference has no generation code and no KV cache: reference/bench.py runs "
      "the reference's full forward over the whole context for every token, which is what it "
      "can do. For scale, tinyr2 without its cache (generate --no-cache): {} tokens/s. Ratio: "
      "median of the per-round ratios: {:.2f}.",
      o.prompt_tokens, o.decode_tokens, rate(bench::median(res.ours.nocache_tps)),
      fmt::join(res.decode_ratio, ", ")));
  say(fmt::format(
      "[3] max RSS (wait4 ru_maxrss) of each side's training process, the largest over the "
      "rounds; before the first step it was {:.0f} MiB (tinyr2) and {:.0f} MiB (PyTorch: "
      "interpreter, torch libraries, model, batches). PyTorch {} from {}.",
      mib(max_of(res.ours.rss_before_kb)), mib(max_of(res.torch.rss_before_kb)),
      res.torch.version.empty() ? "?" : res.torch.version, in.python));
}

}  // namespace

void print_header(const Inputs& in, const CompareOptions& o, int threads) {
  const int64_t B = in.rc.train.batch_size, T = in.rc.model.ctx_len, ga = in.rc.train.grad_accum;
  nn::Model probe(in.rc.model);
  say(fmt::format("tinyr2 bench compare: {}", in.config));
  say(fmt::format(
      "  model {} parameters ({} active per token); {} × {} tokens{} per step; {} threads on "
      "both sides",
      human(static_cast<double>(probe.num_params())),
      human(static_cast<double>(probe.active_params_per_token())), B, T, micro_batches(ga),
      threads));
  say(
      fmt::format("  {} rounds, sides interleaved; training: {} warm-up + {} timed steps; decode: "
                  "{}-token prompt, {} greedy tokens",
                  o.rounds, o.warmup, o.steps, o.prompt_tokens, o.decode_tokens));
  say(fmt::format("  load average {:.2f} on {} CPUs at the start", load_average(),
                  ::sysconf(_SC_NPROCESSORS_ONLN)));
#ifndef NDEBUG
  say("  warning: this tinyr2 is not an optimised build (NDEBUG unset); build Release");
#endif
}

Ratios print_table(const RoundResults& res, const Inputs& in, const CompareOptions& o) {
  const double train_speedup = bench::median(res.train_ratio);
  const double decode_speedup = bench::median(res.decode_ratio);
  const double rss_ours = max_of(res.ours.rss_kb), rss_torch = max_of(res.torch.rss_kb);
  const double memory_ratio = rss_ours / rss_torch;
  say("");
  say(fmt::format("{:<44} {:>12} {:>12} {:>15}", "measure", "tinyr2", "PyTorch", "tinyr2/PyTorch"));
  say(fmt::format("{:<44} {:>12} {:>12} {:>14.2f}x", "training tokens/s [1]",
                  rate(bench::median(res.ours.train_tps)), rate(bench::median(res.torch.train_tps)),
                  train_speedup));
  say(fmt::format("{:<44} {:>12} {:>12} {:>14.2f}x", "decode tokens/s [2]",
                  rate(bench::median(res.ours.decode_tps)),
                  rate(bench::median(res.torch.decode_tps)), decode_speedup));
  say(fmt::format("{:<44} {:>12.0f} {:>12.0f} {:>14.2f}x", "peak RSS of training, MiB [3]",
                  mib(rss_ours), mib(rss_torch), memory_ratio));
  say("");
  print_notes(res, in, o);
  return {{"train_speedup", train_speedup},
          {"decode_speedup", decode_speedup},
          {"memory_ratio", memory_ratio}};
}

void print_ratios(const Ratios& ratios, double total_s) {
  say("");
  say(fmt::format("total {:.0f} s; load average {:.2f} at the end", total_s, load_average()));
  for (const auto& [name, value] : ratios) say(fmt::format("ratio {}={:.4g}", name, value));
}

}  // namespace tinyr2::bench_compare
