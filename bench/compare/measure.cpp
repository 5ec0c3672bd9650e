// The hidden child subcommands of `bench compare`, `bench train-step` and `bench decode`:
// each measures tinyr2's side of one measure and prints one JSON line (the twins of
// reference/bench.py's `train` and `decode`); `bench blas-sgemm` measures raw OpenBLAS sgemm
// on the kernel the process was started with.
#include <algorithm>
#include <ctime>
#include <vector>

#include <cblas.h>

#include <nlohmann/json.hpp>

#include "bench/compare/bench_compare.h"
#include "bench/compare/inputs.h"
#include "bench/compare/output.h"
#include "bench/timing.h"
#include "bench/workloads.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "infer/generator.h"
#include "nn/model.h"

namespace tinyr2::bench_compare {

namespace {

// Greedy, never stopping early (a random model may well choose <|endoftext|>).
infer::GenerationOptions greedy(int64_t n, bool cache) {
  infer::GenerationOptions g;
  g.max_new_tokens = n;
  g.sampling.temperature = 0;
  g.use_cache = cache;
  g.eot = -1;
  return g;
}

std::vector<int32_t> random_prompt(const train::RunConfig& rc, int64_t n) {
  Rng rng(static_cast<uint64_t>(rc.train.seed) + 5);
  std::vector<int32_t> prompt(static_cast<size_t>(n));
  for (auto& id : prompt)
    id = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(rc.model.vocab_size)));
  return prompt;
}

}  // namespace

int run_bench_train_step(const TrainStepOptions& o) {
  if (o.steps < 1 || o.warmup < 0) fail("bench train-step: --steps must be >= 1, --warmup >= 0");
  train::RunConfig rc = load_config(o.config);
  if (!o.precision.empty()) rc.train.precision = o.precision;
  if (o.lora_rank < 0) fail("bench train-step: --lora-rank must be >= 0");
  if (o.lora_rank > 0) rc.train.lora_rank = o.lora_rank;  // the random init is the base
  bench::TrainStepWorkload w(rc);
  const int64_t rss_before = peak_rss_kb();
  for (int64_t i = 0; i < o.warmup; ++i) w.run();
  std::vector<double> step_ms;
  double loss_first = 0, loss_last = 0;
  train::StepPhases ph;  // summed over the timed steps (CPU seconds)
  const bench::Clock::time_point t0 = bench::Clock::now();
  const std::clock_t cpu0 = std::clock();  // CPU time too: wall time means little when shared
  for (int64_t i = 0; i < o.steps; ++i) {
    const bench::Clock::time_point ts = bench::Clock::now();
    const train::StepResult r = w.run();
    step_ms.push_back(bench::seconds_since(ts) * 1e3);
    if (i == 0) loss_first = r.loss;
    loss_last = r.loss;
    ph.add(r.phases);
  }
  const double seconds = bench::seconds_since(t0);
  const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  const int64_t tokens = w.tokens_per_step();
  nlohmann::json j = {{"engine", "tinyr2"},
                      {"threads", threads::num_threads()},
                      {"precision", rc.train.precision},
                      {"steps", o.steps},
                      {"warmup", o.warmup},
                      {"tokens_per_step", tokens},
                      {"seconds", seconds},
                      {"cpu_seconds", cpu_seconds},
                      {"tokens_per_s", static_cast<double>(tokens * o.steps) / seconds},
                      {"step_ms", step_ms},
                      {"loss_first", loss_first},
                      {"loss_last", loss_last},
                      {"params", w.model().num_params()},
                      {"rss_before_train_kb", rss_before},
                      {"lora_rank", rc.train.lora_rank},
                      {"peak_rss_kb", peak_rss_kb()}};
  const double per_step_ms = 1e3 / static_cast<double>(o.steps);
  j["phase_cpu_ms"] = {
      {"forward", ph.forward * per_step_ms},     {"backward", ph.backward * per_step_ms},
      {"clip", ph.clip * per_step_ms},           {"muon", ph.muon * per_step_ms},
      {"adamw", ph.adamw * per_step_ms},         {"bias", ph.bias * per_step_ms},
      {"zero_grad", ph.zero_grad * per_step_ms}, {"step", ph.total() * per_step_ms}};
  say(j.dump());
  return 0;
}

int run_bench_decode(const DecodeOptions& o) {
  if (o.tokens < 2 || o.prompt_tokens < 1)
    fail("bench decode: --tokens must be >= 2, --prompt-tokens >= 1");
  const train::RunConfig rc = load_config(o.config);
  nn::Model model(rc.model);
  model.init(static_cast<uint64_t>(rc.train.seed));
  const std::vector<int32_t> prompt = random_prompt(rc, o.prompt_tokens);
  nlohmann::json j = {{"engine", "tinyr2"},
                      {"threads", threads::num_threads()},
                      {"prompt_tokens", o.prompt_tokens}};
  for (const bool cache : {true, false}) {
    infer::Generator(model, greedy(std::min<int64_t>(o.tokens, 8), cache)).generate(prompt);
    infer::Generator gen(model, greedy(o.tokens, cache));
    const std::vector<int32_t> out = gen.generate(prompt);
    const infer::GenerationStats& s = gen.stats();
    const double tps = s.decode_seconds > 0 ? s.decode_steps / s.decode_seconds : 0.0;
    const std::string p = cache ? "" : "nocache_";
    j[p + "tokens"] = out.size();
    j[p + "prefill_ms"] = s.prefill_seconds * 1e3;
    j[p + "decode_steps"] = s.decode_steps;
    j[p + "decode_seconds"] = s.decode_seconds;
    j[p + "decode_tokens_per_s"] = tps;
  }
  j["kv_cache"] = true;
  say(j.dump());
  return 0;
}

int run_bench_blas_sgemm(const BlasSgemmOptions& o) {
  if (o.n.empty() || o.min_time <= 0)
    fail("bench blas-sgemm: --n needs at least one size, --min-time must be > 0");
  double best = 0;
  int64_t best_n = 0;
  for (const int64_t n : o.n) {
    if (n < 1) fail("bench blas-sgemm: sizes must be >= 1, got {}", n);
    Tensor a = bench::random_normal({n, n}, 1), b = bench::random_normal({n, n}, 2),
           c = Tensor::zeros({n, n});
    const int ni = static_cast<int>(n);
    const bench::Timing t =
        bench::time_interleaved({[&] {
                                  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni,
                                              1.f, a.data(), ni, b.data(), ni, 0.f, c.data(), ni);
                                }},
                                o.min_time, 3)[0];
    const double g = 2.0 * static_cast<double>(n) * n * n / t.median_s / 1e9;
    if (g > best) best = g, best_n = n;
  }
  const nlohmann::json j = {{"engine", "openblas"},
                            {"kernel", openblas_get_corename()},
                            {"threads", threads::num_threads()},
                            {"n", best_n},
                            {"gflops", best}};
  say(j.dump());
  return 0;
}

}  // namespace tinyr2::bench_compare
