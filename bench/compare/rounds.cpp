#include "bench/compare/rounds.h"

#include <fmt/format.h>

#include "bench/compare/output.h"

namespace tinyr2::bench_compare {

namespace {

std::vector<std::string> concat(std::vector<std::string> head,
                                const std::vector<std::string>& flags) {
  head.insert(head.end(), flags.begin(), flags.end());
  return head;
}

const char* side_name(bool is_ours) {
  return is_ours ? "tinyr2" : "PyTorch";
}

// One side's training measure: runs it, records its figures; returns its tokens/s.
double measure_training(bool is_ours, const MeasureCommands& cmd, const Scratch& scratch,
                        const std::string& round, SideFigures& s) {
  const std::string what = is_ours ? "tinyr2 bench train-step" : "reference/bench.py train";
  progress(fmt::format("{}: training, {} ...", round, side_name(is_ours)));
  const ChildRun c = run_child(is_ours ? cmd.ours_train : cmd.torch_train, scratch, what,
                               is_ours ? EnvChanges{} : cmd.torch_env);
  const double v = number(c.result, "tokens_per_s", what);
  s.train_tps.push_back(v);
  s.rss_kb.push_back(c.max_rss_kb);
  s.rss_before_kb.push_back(c.result.value("rss_before_train_kb", int64_t{0}));
  if (c.result.contains("torch")) s.version = c.result["torch"].get<std::string>();
  progress(fmt::format("{}: training, {}: {} tokens/s, peak RSS {:.0f} MiB ({:.1f} s)", round,
                       side_name(is_ours), rate(v), mib(c.max_rss_kb), c.wall_s));
  return v;
}

// One side's decode measure: runs it, records its figures; returns its tokens/s.
double measure_decode(bool is_ours, const MeasureCommands& cmd, const Scratch& scratch,
                      const std::string& round, SideFigures& s) {
  const std::string what = is_ours ? "tinyr2 bench decode" : "reference/bench.py decode";
  progress(fmt::format("{}: decode, {} ...", round, side_name(is_ours)));
  const ChildRun c = run_child(is_ours ? cmd.ours_decode : cmd.torch_decode, scratch, what,
                               is_ours ? EnvChanges{} : cmd.torch_env);
  const double v = number(c.result, "decode_tokens_per_s", what);
  s.decode_tps.push_back(v);
  if (is_ours) s.nocache_tps.push_back(number(c.result, "nocache_decode_tokens_per_s", what));
  progress(fmt::format("{}: decode, {}: {} tokens/s", round, side_name(is_ours), rate(v)));
  return v;
}

}  // namespace

MeasureCommands measure_commands(const Inputs& in, const CompareOptions& o, int threads) {
  const std::string t = std::to_string(threads);
  const std::vector<std::string> train_flags = {"--config", in.config,
                                                "--steps",  std::to_string(o.steps),
                                                "--warmup", std::to_string(o.warmup)};
  const std::vector<std::string> decode_flags = {
      "--config",        in.config,
      "--prompt-tokens", std::to_string(o.prompt_tokens),
      "--tokens",        std::to_string(o.decode_tokens)};
  MeasureCommands c;
  c.ours_train = concat({in.self, "-t", t, "bench", "train-step"}, train_flags);
  c.torch_train = concat({in.python, in.script, "-t", t, "train"}, train_flags);
  c.ours_decode = concat({in.self, "-t", t, "bench", "decode"}, decode_flags);
  c.torch_decode = concat({in.python, in.script, "-t", t, "decode"}, decode_flags);
  c.torch_env = in.torch_env;
  return c;
}

RoundResults run_rounds(const MeasureCommands& cmd, const CompareOptions& o,
                        const Scratch& scratch) {
  RoundResults res;
  for (int64_t r = 0; r < o.rounds; ++r) {
    const bool ours_first = r % 2 == 0;  // ABBA: tinyr2 first in even rounds, PyTorch in odd
    const std::string round = fmt::format("round {}/{}", r + 1, o.rounds);
    double tps[2] = {0, 0};  // [tinyr2, PyTorch] this round
    for (int k = 0; k < 2; ++k) {
      const bool is_ours = (k == 0) == ours_first;
      tps[is_ours ? 0 : 1] =
          measure_training(is_ours, cmd, scratch, round, is_ours ? res.ours : res.torch);
    }
    res.train_ratio.push_back(tps[0] / tps[1]);
    for (int k = 0; k < 2; ++k) {
      const bool is_ours = (k == 0) == ours_first;
      tps[is_ours ? 0 : 1] =
          measure_decode(is_ours, cmd, scratch, round, is_ours ? res.ours : res.torch);
    }
    res.decode_ratio.push_back(tps[0] / tps[1]);
  }
  return res;
}

}  // namespace tinyr2::bench_compare
