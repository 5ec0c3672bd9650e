// `tinyr2 prepare` (SPEC §15): a corpus tokenized into llm.c-format token shards.
//
//   tinyr2 prepare --data PATH... [--glob G] --out DIR [--val-fraction F] [--shard-tokens N]
//                  [-s SEED]
//     Writes DIR/train_NNNNNN.bin and DIR/val_NNNNNN.bin (src/data/token_shards.h: format,
//     split, order), printing a progress bar (percent of the text, tokens, tokens/s, ETA) on
//     stderr and a summary on stdout. `tinyr2 train --data DIR` then streams them.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"

namespace tinyr2::cli {

namespace {

std::string human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string clock_time(double s) {
  const auto t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02d}", t / 60, t % 60);
}

}  // namespace

Command make_prepare_command() {
  struct Opt {
    std::vector<std::string> data;
    std::string glob, out;
    double val_fraction = 0.05;
    int64_t shard_tokens = data::kMaxShardTokens;
    uint64_t seed = 1337;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("prepare", "tokenize a corpus into llm.c-format token shards");
    s->add_option("--data", o->data, "a directory, a text file or a .jsonl file; repeatable")
        ->required()
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    s->add_option("--glob", o->glob, "only files whose name matches this pattern in directories");
    s->add_option("--out", o->out, "directory for train_NNNNNN.bin / val_NNNNNN.bin")->required();
    s->add_option("--val-fraction", o->val_fraction, "share of documents for validation")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.999999));
    s->add_option("--shard-tokens", o->shard_tokens, "tokens per shard (at most 100 M)")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, data::kMaxShardTokens));
    s->add_option("-s,--seed", o->seed, "seed of the train documents' order")
        ->capture_default_str();
    return s;
  };
  c.execute = [o]() -> int {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const data::Tokenizer tok = data::Tokenizer::load();
    const data::Corpus corpus = data::Corpus::scan(o->data, {o->glob, o->val_fraction});
    fmt::print("prepare: {} threads; data: {}\n", threads::num_threads(), corpus.summary());
    std::fflush(stdout);
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    double last = -1;
    auto progress = [&](int64_t done, int64_t total, int64_t tokens) {
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (done < total && s - last < 0.5) return;  // at most two updates a second
      last = s;
      const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1;
      const int width = 30, filled = static_cast<int>(frac * width);
      const double eta = frac > 0 ? s * (1 - frac) / frac : 0;
      fmt::print(stderr, "{}prepare [{}{}] {:5.1f}% | {} tokens | {} tok/s | ETA {}{}",
                 tty ? "\r" : "", std::string(static_cast<size_t>(filled), '#'),
                 std::string(static_cast<size_t>(width - filled), '.'), 100 * frac,
                 human(static_cast<double>(tokens)),
                 human(static_cast<double>(tokens) / std::max(s, 1e-9)), clock_time(eta),
                 tty ? "" : "\n");
      std::fflush(stderr);
    };
    const data::PrepareResult r =
        data::prepare_shards(corpus, tok, o->out, {o->shard_tokens, o->seed}, progress);
    if (tty) fmt::print(stderr, "\n");
    int64_t train_tokens = 0, val_tokens = 0;
    for (const auto& s : r.train) train_tokens += s.tokens;
    for (const auto& s : r.val) val_tokens += s.tokens;
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    fmt::print(
        "prepare: {} documents, {} tokens ({} train in {} shards, {} val in {} shards) in {:.1f} "
        "s → {}\n",
        r.documents, r.tokens, train_tokens, r.train.size(), val_tokens, r.val.size(), s, o->out);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
