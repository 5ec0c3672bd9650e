#include "cli/bench_compare.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "bench/workloads.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "infer/generator.h"
#include "nn/model.h"
#include "train/train_config.h"

#ifndef TINYR2_SOURCE_DIR
#define TINYR2_SOURCE_DIR ""
#endif
#ifndef TINYR2_TORCH_PYTHON
#define TINYR2_TORCH_PYTHON "/usr/bin/python3"
#endif

namespace tinyr2::cli {

namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::seconds_since;

// Peak resident set of this process so far, KiB.
int64_t peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// The 1-minute load average (/proc/loadavg), or -1: how busy the shared machine was.
double load_average() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  f >> v;
  return f ? v : -1.0;
}

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Progress goes to stderr, so stdout holds the report alone.
void progress(const std::string& line) {
  std::fputs(("[bench compare] " + line + "\n").c_str(), stderr);
  std::fflush(stderr);
}

train::RunConfig load_config(const std::string& path) {
  if (path.empty()) fail("bench: give --config FILE");
  if (!fs::is_regular_file(path)) fail("{}: config file not found", path);
  return train::load_run_config(path);
}

}  // namespace

// ---- the hidden child subcommands --------------------------------------------------------------

int run_bench_train_step(const TrainStepOptions& o) {
  if (o.steps < 1 || o.warmup < 0) fail("bench train-step: --steps must be >= 1, --warmup >= 0");
  const train::RunConfig rc = load_config(o.config);
  bench::TrainStepWorkload w(rc);
  const int64_t rss_before = peak_rss_kb();
  for (int64_t i = 0; i < o.warmup; ++i) w.run();
  std::vector<double> step_ms;
  double loss_first = 0, loss_last = 0;
  const Clock::time_point t0 = Clock::now();
  for (int64_t i = 0; i < o.steps; ++i) {
    const Clock::time_point ts = Clock::now();
    const train::StepResult r = w.run();
    step_ms.push_back(seconds_since(ts) * 1e3);
    if (i == 0) loss_first = r.loss;
    loss_last = r.loss;
  }
  const double seconds = seconds_since(t0);
  const int64_t tokens = w.tokens_per_step();
  const nlohmann::json j = {{"engine", "tinyr2"},
                            {"threads", threads::num_threads()},
                            {"steps", o.steps},
                            {"warmup", o.warmup},
                            {"tokens_per_step", tokens},
                            {"seconds", seconds},
                            {"tokens_per_s", static_cast<double>(tokens * o.steps) / seconds},
                            {"step_ms", step_ms},
                            {"loss_first", loss_first},
                            {"loss_last", loss_last},
                            {"params", w.model().num_params()},
                            {"rss_before_train_kb", rss_before}};
  say(j.dump());
  return 0;
}

int run_bench_decode(const DecodeOptions& o) {
  if (o.tokens < 2 || o.prompt_tokens < 1)
    fail("bench decode: --tokens must be >= 2, --prompt-tokens >= 1");
  const train::RunConfig rc = load_config(o.config);
  nn::Model model(rc.model);
  model.init(static_cast<uint64_t>(rc.train.seed));
  Rng rng(static_cast<uint64_t>(rc.train.seed) + 5);
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_tokens));
  for (auto& id : prompt)
    id = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(rc.model.vocab_size)));

  // Greedy, never stopping early (a random model may well choose <|endoftext|>).
  auto options = [&](int64_t n, bool cache) {
    infer::GenerationOptions g;
    g.max_new_tokens = n;
    g.sampling.temperature = 0;
    g.use_cache = cache;
    g.eot = -1;
    return g;
  };
  nlohmann::json j = {{"engine", "tinyr2"},
                      {"threads", threads::num_threads()},
                      {"prompt_tokens", o.prompt_tokens}};
  for (const bool cache : {true, false}) {
    infer::Generator(model, options(std::min<int64_t>(o.tokens, 8), cache)).generate(prompt);
    infer::Generator gen(model, options(o.tokens, cache));
    const std::vector<int32_t> out = gen.generate(prompt);
    const infer::GenerationStats& s = gen.stats();
    const double rate = s.decode_seconds > 0 ? s.decode_steps / s.decode_seconds : 0.0;
    const std::string p = cache ? "" : "nocache_";
    j[p + "tokens"] = out.size();
    j[p + "prefill_ms"] = s.prefill_seconds * 1e3;
    j[p + "decode_steps"] = s.decode_steps;
    j[p + "decode_seconds"] = s.decode_seconds;
    j[p + "decode_tokens_per_s"] = rate;
  }
  j["kv_cache"] = true;
  say(j.dump());
  return 0;
}

// ---- bench compare ------------------------------------------------------------------------------

namespace {

// A scratch directory for the children's output, removed at the end.
class Scratch {
 public:
  Scratch()
      : path_(fs::temp_directory_path() / ("tinyr2_bench_compare_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string last_line(const std::string& text, bool json_only) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (json_only && line[0] != '{') continue;
    last = line;
  }
  return last;
}

struct ChildRun {
  nlohmann::json result;   // the child's JSON line
  int64_t max_rss_kb = 0;  // its peak resident set (wait4)
  double wall_s = 0;
};

// Runs argv as a child process (stdout and stderr to scratch files), waits for it with wait4
// to read its own peak RSS, and parses the last JSON line of its stdout. `what` names it in
// errors.
ChildRun run_child(const std::vector<std::string>& argv, const Scratch& scratch,
                   const std::string& what) {
  const std::string out_path = scratch.file("child.out"), err_path = scratch.file("child.err");
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) fail("cannot create files in {}", out_path);
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  const Clock::time_point t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) fail("cannot start {}: fork failed", what);
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    const char msg[] = "error: exec failed\n";
    [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) fail("waiting for {} failed", what);
  }
  ChildRun r;
  r.wall_s = seconds_since(t0);
  r.max_rss_kb = ru.ru_maxrss;
  const std::string out = read_text(out_path), err = read_text(err_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string why = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                              : fmt::format("signal {}", WTERMSIG(status));
    const std::string msg = last_line(err, false);
    fail("{} failed ({}){}{} (command: {})", what, why, msg.empty() ? "" : ": ", msg, argv[0]);
  }
  const std::string line = last_line(out, true);
  try {
    r.result = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    fail("{} printed no result line (its last output: {})", what, last_line(out, false));
  }
  return r;
}

double number(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) fail("{}: result has no number \"{}\"", what, key);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v <= 0) fail("{}: \"{}\" is {}, not a positive number", what, key, v);
  return v;
}

std::string self_exe() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) fail("cannot find the tinyr2 executable (/proc/self/exe)");
  return self.string();
}

// configs/default.json of the source tree this binary was built from, else of the cwd.
std::string default_config() {
  const std::string built = std::string(TINYR2_SOURCE_DIR);
  std::vector<fs::path> tried;
  if (!built.empty()) tried.push_back(fs::path(built) / "configs" / "default.json");
  tried.push_back(fs::current_path() / "configs" / "default.json");
  for (const auto& p : tried)
    if (fs::is_regular_file(p)) return p.string();
  fail("{}: config file not found (give --config FILE)", tried.front().string());
}

// reference/bench.py next to the config's source tree.
std::string reference_script() {
  std::vector<fs::path> tried;
  const std::string built = std::string(TINYR2_SOURCE_DIR);
  if (!built.empty()) tried.push_back(fs::path(built) / "reference" / "bench.py");
  tried.push_back(fs::current_path() / "reference" / "bench.py");
  for (const auto& p : tried)
    if (fs::is_regular_file(p)) return p.string();
  fail("{}: the PyTorch benchmark script is missing", tried.front().string());
}

std::string human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string rate(double per_s) {
  if (per_s >= 100) return fmt::format("{:.0f}", per_s);
  if (per_s >= 10) return fmt::format("{:.1f}", per_s);
  return fmt::format("{:.2f}", per_s);
}

std::string duration(double s) {
  if (s >= 10) return fmt::format("{:.1f} s", s);
  if (s >= 1) return fmt::format("{:.2f} s", s);
  return fmt::format("{:.2f} ms", s * 1e3);
}

double mib(double kb) {
  return kb / 1024.0;
}

// Per side, per round: the figures the table needs.
struct SideFigures {
  std::vector<double> train_tps, decode_tps, nocache_tps;
  std::vector<int64_t> rss_kb, rss_before_kb;
  std::string version;
};

}  // namespace

int run_bench_compare(const CompareOptions& o) {
  const Clock::time_point t_start = Clock::now();
  // ---- inputs: everything checked before the first child starts ----
  const std::string config = o.config.empty() ? default_config() : o.config;
  const train::RunConfig rc = load_config(config);
  if (o.steps < 1) fail("bench compare: --steps must be >= 1, got {}", o.steps);
  if (o.warmup < 0) fail("bench compare: --warmup must be >= 0, got {}", o.warmup);
  if (o.rounds < 1) fail("bench compare: --rounds must be >= 1, got {}", o.rounds);
  if (o.decode_tokens < 2)
    fail("bench compare: --decode-tokens must be >= 2, got {}", o.decode_tokens);
  if (o.prompt_tokens < 1)
    fail("bench compare: --prompt-tokens must be >= 1, got {}", o.prompt_tokens);
  if (o.micro_t.size() != 2 || o.micro_t[0] < 1 || o.micro_t[1] < 1)
    fail("bench compare: --micro-t takes two sequence lengths SHORT,LONG");
  if (o.moe_tokens < 1 || o.mfu_batch < 1 || o.mfu_ctx < 1 || o.gemm_n.empty())
    fail("bench compare: micro-benchmark sizes must be positive");
  const std::string python = o.python.empty() ? std::string(TINYR2_TORCH_PYTHON) : o.python;
  if (::access(python.c_str(), X_OK) != 0)
    fail(
        "{}: Python interpreter not found or not executable (give --python PATH to one with torch)",
        python);
  const std::string script = reference_script();
  const std::string self = self_exe();
  const int nt = threads::num_threads();
  const std::string t_arg = std::to_string(nt);
  const Scratch scratch;

  const int64_t B = rc.train.batch_size, T = rc.model.ctx_len, ga = rc.train.grad_accum;
  const int64_t tokens_per_step = B * T * ga;
  {
    nn::Model probe(rc.model);
    say(fmt::format("tinyr2 bench compare: {}", config));
    say(fmt::format(
        "  model {} parameters ({} active per token); {} × {} tokens{} per step; {} threads on "
        "both sides",
        human(static_cast<double>(probe.num_params())),
        human(static_cast<double>(probe.active_params_per_token())), B, T,
        ga > 1 ? fmt::format(" × {} micro-batches", ga) : "", nt));
    say(fmt::format(
        "  {} rounds, sides interleaved; training: {} warm-up + {} timed steps; decode: "
        "{}-token prompt, {} greedy tokens",
        o.rounds, o.warmup, o.steps, o.prompt_tokens, o.decode_tokens));
    say(fmt::format("  load average {:.2f} on {} CPUs at the start", load_average(),
                    ::sysconf(_SC_NPROCESSORS_ONLN)));
#ifndef NDEBUG
    say("  warning: this tinyr2 is not an optimised build (NDEBUG unset); build Release");
#endif
  }

  // ---- end to end: tinyr2 and PyTorch, each measure in its own process ----
  // Each measure's command line: the side's program and subcommand, then the shared flags.
  auto argv = [](std::vector<std::string> head, const std::vector<std::string>& flags) {
    head.insert(head.end(), flags.begin(), flags.end());
    return head;
  };
  const std::vector<std::string> train_flags = {
      "--config", config, "--steps", std::to_string(o.steps), "--warmup", std::to_string(o.warmup)};
  const std::vector<std::string> decode_flags = {
      "--config",        config,
      "--prompt-tokens", std::to_string(o.prompt_tokens),
      "--tokens",        std::to_string(o.decode_tokens)};
  const auto ours_train = argv({self, "-t", t_arg, "bench", "train-step"}, train_flags);
  const auto torch_train = argv({python, script, "-t", t_arg, "train"}, train_flags);
  const auto ours_decode = argv({self, "-t", t_arg, "bench", "decode"}, decode_flags);
  const auto torch_decode = argv({python, script, "-t", t_arg, "decode"}, decode_flags);

  SideFigures ours, torch;
  std::vector<double> train_ratio, decode_ratio;
  for (int64_t r = 0; r < o.rounds; ++r) {
    const bool ours_first = r % 2 == 0;  // ABBA: tinyr2 first in even rounds, PyTorch in odd
    const std::string round = fmt::format("round {}/{}", r + 1, o.rounds);
    double tps[2] = {0, 0};  // [tinyr2, PyTorch] this round
    for (int k = 0; k < 2; ++k) {
      const bool is_ours = (k == 0) == ours_first;
      const std::string what = is_ours ? "tinyr2 bench train-step" : "reference/bench.py train";
      progress(fmt::format("{}: training, {} ...", round, is_ours ? "tinyr2" : "PyTorch"));
      const ChildRun c = run_child(is_ours ? ours_train : torch_train, scratch, what);
      SideFigures& s = is_ours ? ours : torch;
      const double v = number(c.result, "tokens_per_s", what);
      s.train_tps.push_back(v);
      s.rss_kb.push_back(c.max_rss_kb);
      s.rss_before_kb.push_back(c.result.value("rss_before_train_kb", int64_t{0}));
      if (c.result.contains("torch")) s.version = c.result["torch"].get<std::string>();
      tps[is_ours ? 0 : 1] = v;
      progress(fmt::format("{}: training, {}: {} tokens/s, peak RSS {:.0f} MiB ({:.1f} s)", round,
                           is_ours ? "tinyr2" : "PyTorch", rate(v), mib(c.max_rss_kb), c.wall_s));
    }
    train_ratio.push_back(tps[0] / tps[1]);
    for (int k = 0; k < 2; ++k) {
      const bool is_ours = (k == 0) == ours_first;
      const std::string what = is_ours ? "tinyr2 bench decode" : "reference/bench.py decode";
      progress(fmt::format("{}: decode, {} ...", round, is_ours ? "tinyr2" : "PyTorch"));
      const ChildRun c = run_child(is_ours ? ours_decode : torch_decode, scratch, what);
      SideFigures& s = is_ours ? ours : torch;
      const double v = number(c.result, "decode_tokens_per_s", what);
      s.decode_tps.push_back(v);
      if (is_ours) s.nocache_tps.push_back(number(c.result, "nocache_decode_tokens_per_s", what));
      tps[is_ours ? 0 : 1] = v;
      progress(fmt::format("{}: decode, {}: {} tokens/s", round, is_ours ? "tinyr2" : "PyTorch",
                           rate(v)));
    }
    decode_ratio.push_back(tps[0] / tps[1]);
  }
  auto max_of = [](const std::vector<int64_t>& v) {
    return static_cast<double>(*std::max_element(v.begin(), v.end()));
  };
  const double train_speedup = bench::median(train_ratio);
  const double decode_speedup = bench::median(decode_ratio);
  const double rss_ours = max_of(ours.rss_kb), rss_torch = max_of(torch.rss_kb);
  const double memory_ratio = rss_ours / rss_torch;

  say("");
  say(fmt::format("{:<44} {:>12} {:>12} {:>15}", "measure", "tinyr2", "PyTorch", "tinyr2/PyTorch"));
  say(fmt::format("{:<44} {:>12} {:>12} {:>14.2f}x", "training tokens/s [1]",
                  rate(bench::median(ours.train_tps)), rate(bench::median(torch.train_tps)),
                  train_speedup));
  say(fmt::format("{:<44} {:>12} {:>12} {:>14.2f}x", "decode tokens/s [2]",
                  rate(bench::median(ours.decode_tps)), rate(bench::median(torch.decode_tps)),
                  decode_speedup));
  say(fmt::format("{:<44} {:>12.0f} {:>12.0f} {:>14.2f}x", "peak RSS of training, MiB [3]",
                  mib(rss_ours), mib(rss_torch), memory_ratio));
  say("");
  say(fmt::format(
      "[1] {} tokens per step (batch {} × ctx_len {}{}) of uniform random tokens; a step is "
      "forward, backward, global-norm clip, Muon + AdamW (tinyr2: train::Trainer; PyTorch: "
      "reference/train.py train() with reference/optim.py), float32, gate noise on; after {} "
      "warm-up steps. Values: median over the rounds; ratio: median of the per-round ratios "
      "(each round runs both sides back to back): {:.2f}.",
      tokens_per_step, B, T, ga > 1 ? fmt::format(" × {} micro-batches", ga) : "", o.warmup,
      fmt::join(train_ratio, ", ")));
  say(fmt::format(
      "[2] greedy, random weights, {}-token random prompt, {} tokens; tokens/s = forwards after "
      "the prefill / their time. tinyr2 decodes with its KV cache (one position per token). "
      "The PyTorch reference has no generation code and no KV cache: reference/bench.py runs "
      "the reference's full forward over the whole context for every token, which is what it "
      "can do. For scale, tinyr2 without its cache (generate --no-cache): {} tokens/s. Ratio: "
      "median of the per-round ratios: {:.2f}.",
      o.prompt_tokens, o.decode_tokens, rate(bench::median(ours.nocache_tps)),
      fmt::join(decode_ratio, ", ")));
  say(fmt::format(
      "[3] max RSS (wait4 ru_maxrss) of each side's training process, the largest over the "
      "rounds; before the first step it was {:.0f} MiB (tinyr2) and {:.0f} MiB (PyTorch: "
      "interpreter, torch libraries, model, batches). PyTorch {} from {}.",
      mib(max_of(ours.rss_before_kb)), mib(max_of(torch.rss_before_kb)),
      torch.version.empty() ? "?" : torch.version, python));

  // ---- micro-benchmarks (tinyr2 only, in this process) ----
  std::vector<std::pair<std::string, double>> ratios = {{"train_speedup", train_speedup},
                                                        {"decode_speedup", decode_speedup},
                                                        {"memory_ratio", memory_ratio}};
  if (!o.skip_micro) {
    say("");
    say(fmt::format(
        "micro-benchmarks (tinyr2, {} threads; median time per call over >= {:g} s and >= 3 "
        "calls after a warm-up call; compared workloads run interleaved)",
        nt, o.min_time));
    say(fmt::format("{:<62} {:>12} {:>16}", "benchmark", "time", "rate"));
    auto row = [](const std::string& name, double seconds, const std::string& r) {
      say(fmt::format("{:<62} {:>12} {:>16}", name, duration(seconds), r));
    };

    // (a) one attention layer, FULL vs NSA, forward + backward.
    double nsa_ratio[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      const int64_t t = o.micro_t[static_cast<size_t>(i)];
      progress(fmt::format("micro: attention layer FULL vs NSA at T={} ...", t));
      bench::AttentionLayerWorkload full(bench::AttentionKind::Full, t);
      bench::AttentionLayerWorkload nsa(bench::AttentionKind::Nsa, t);
      const auto tm =
          bench::time_interleaved({[&] { full.run(); }, [&] { nsa.run(); }}, o.min_time, 3);
      const double tt = static_cast<double>(t);
      row(fmt::format("attention layer fwd+bwd, FULL, B=1 T={}", t), tm[0].median_s,
          human(tt / tm[0].median_s) + " tok/s");
      row(fmt::format("attention layer fwd+bwd, NSA,  B=1 T={}", t), tm[1].median_s,
          human(tt / tm[1].median_s) + " tok/s");
      nsa_ratio[i] = tm[0].median_s / tm[1].median_s;
      say(fmt::format("  FULL time / NSA time at T={}: {:.2f}x", t, nsa_ratio[i]));
    }

    // (b) one DSMoE layer at 8, 32, 64 experts, num_exp 2.
    {
      progress("micro: DSMoE layer with 8, 32, 64 experts ...");
      const int64_t counts[3] = {8, 32, 64};
      std::vector<std::unique_ptr<bench::MoELayerWorkload>> w;
      std::vector<std::function<void()>> fns;
      for (int64_t e : counts) {
        w.push_back(std::make_unique<bench::MoELayerWorkload>(e, 2, o.moe_tokens, 256));
        bench::MoELayerWorkload* p = w.back().get();
        fns.push_back([p] { p->run(); });
      }
      const auto tm = bench::time_interleaved(fns, o.min_time, 3);
      for (size_t i = 0; i < 3; ++i)
        row(fmt::format("DSMoE layer fwd+bwd, {} experts, num_exp 2, {} tokens, C=256", counts[i],
                        o.moe_tokens),
            tm[i].median_s, human(static_cast<double>(o.moe_tokens) / tm[i].median_s) + " tok/s");
      const double moe_ratio = tm[2].median_s / tm[0].median_s;
      say(fmt::format("  64-expert time / 8-expert time: {:.2f}x", moe_ratio));
      ratios.emplace_back("nsa_vs_full_32k", nsa_ratio[1]);
      ratios.emplace_back("nsa_vs_full_512", nsa_ratio[0]);
      ratios.emplace_back("moe_64_vs_8", moe_ratio);
    }

    // (c) MFU of a dense n_embd 512 model against the sgemm ceiling of this run.
    {
      progress("micro: sgemm ceiling ...");
      double ceiling = 0;
      int64_t best_n = 0;
      for (int64_t n : o.gemm_n) {
        const double g = bench::sgemm_gflops(n, std::min(o.min_time, 1.0));
        if (g > ceiling) ceiling = g, best_n = n;
      }
      row(fmt::format("sgemm ceiling (best of n = {})", fmt::join(o.gemm_n, ", ")),
          2.0 * static_cast<double>(best_n) * best_n * best_n / (ceiling * 1e9),
          fmt::format("{:.1f} GFLOP/s", ceiling));
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
      row(fmt::format("dense512 training step, batch {} × {} (median of {})", o.mfu_batch,
                      o.mfu_ctx, tm.calls),
          tm.median_s, fmt::format("{:.1f} GFLOP/s", achieved));
      say(fmt::format(
          "  dense512: n_embd 512, n_head 8, n_layer 4, ctx_len {}, every layer FULL attention "
          "+ MLP, hc false, vocab 50257; step = forward + backward + clip + Muon/AdamW",
          o.mfu_ctx));
      say(fmt::format(
          "  model FLOPs per token = 6·N + 12·n_layer·T·C/2 with N = non-embedding active "
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
      ratios.emplace_back("mfu_dense512", mfu);
    }
    if (o.micro_t[0] != 512 || o.micro_t[1] != 32768 || o.moe_tokens != 2048 || o.mfu_batch != 4 ||
        o.mfu_ctx != 512)
      say(
          fmt::format("note: reduced micro-benchmark sizes: nsa_vs_full_512 is measured at T={}, "
                      "nsa_vs_full_32k at T={}, moe at {} tokens, mfu_dense512 at batch {} × {}",
                      o.micro_t[0], o.micro_t[1], o.moe_tokens, o.mfu_batch, o.mfu_ctx));
  } else {
    say("");
    say("micro-benchmarks skipped (--skip-micro)");
  }

  say("");
  say(fmt::format("total {:.0f} s; load average {:.2f} at the end", seconds_since(t_start),
                  load_average()));
  for (const auto& [name, value] : ratios) say(fmt::format("ratio {}={:.4g}", name, value));
  return 0;
}

}  // namespace tinyr2::cli
