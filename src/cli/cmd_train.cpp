// Training and evaluation commands (SPEC §5, §6):
//
//   tinyr2 train --config FILE [--data PATH]... [--out DIR] [--set KEY=VALUE]... [--resume]
//                [--glob PATTERN]
//     Trains from scratch into DIR (default runs/<config file stem>), or with --resume
//     continues the run in DIR from its `latest` checkpoint, bit-exactly for the same thread
//     count (--config then defaults to DIR/config.json and --data to the checkpoint's
//     sources). See src/train/training_run.h for the run, src/train/trainer.h for the loop and
//     src/train/checkpoint.h for the files.
//
//   tinyr2 eval -m MODEL_DIR --data PATH [--data PATH]... [--batches N] [--batch-size B]
//               [--glob PATTERN] [-s SEED] [--split all|train|val [--run RUN_DIR]]
//     Mean cross-entropy and perplexity of a model on held-out text. With --split all (the
//     default) every document under the PATHs is used (no train/val split: the text is
//     assumed held out). The documents are streamed in a seeded shuffled order as
//     ctx_len-token windows, like training batches; N batches of B windows are scored (N = 0:
//     one whole pass over the text). N is capped to one pass, so no text is scored twice.
//     --split val|train scores a training run's own split, found as train split it (the run:
//     the model's run directory, or --run; --data defaults to the run's sources; by default
//     the run's own eval batches) — src/train/eval_split.h.
//
// Hidden test hooks of `train` (not in --help; used by tests/train), set into one
// train::FaultInjection (src/train/fault_injection.h, which says what each does):
//   --test-nan-from N, --stop-after N, --test-kill-in-checkpoint N, --test-kill-rank R,
//   --test-corrupt-rank R; and --dp-no-overlap (all-reduce after backward, to measure),
//   --dp-no-shard (every rank runs the whole optimizer step without ZeRO, to measure).
// Under mpirun (SPEC §15): `mpirun -np P tinyr2 train ...`; `--data DIR` may name a
// directory of token shards written by `tinyr2 prepare` (src/data/token_shards.h).
#include <cmath>
#include <memory>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/arg_checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/token_buffer.h"
#include "data/tokenizer.h"
#include "nn/lora_files.h"
#include "nn/model.h"
#include "train/eval_split.h"
#include "train/trainer.h"
#include "train/training_run.h"

namespace tinyr2::cli {

Command make_train_command() {
  auto o = std::make_shared<train::TrainOptions>();
  // SPEC §12: --init-from and --lora-* are train.* keys (so the run's config.json and
  // --resume keep them); given as flags they become --set overrides.
  struct Lora {
    std::string init_from, alpha, dropout, targets, rank;
  };
  auto l = std::make_shared<Lora>();
  Command c;
  c.setup = [o, l](CLI::App& app) {
    auto* s = app.add_subcommand("train", "train a model (or --resume a run) on text data");
    s->add_option("--config", o->config,
                  "config JSON: model keys + \"train\" section (SPEC §1, §6)");
    s->add_option(
         "--data", o->data,
         "a directory (every text file under it), a text file or a .jsonl file; repeatable")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    s->add_option("--glob", o->glob,
                  "only files whose name matches this pattern in directories, e.g. \"*.py\"");
    s->add_option("--out", o->out, "run directory (default runs/<config file stem>)");
    s->add_option(
         "--set", o->sets,
         "override a config key: KEY=VALUE (VALUE as JSON), e.g. train.lr=3e-3; repeatable")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* resume =
        s->add_flag("--resume", o->resume, "continue the run in --out from its latest checkpoint");
    s->add_flag("--force", o->force,
                "start over in a non-empty --out (deletes the run or model files there)")
        ->excludes(resume);
    s->add_option("--init-from", l->init_from,
                  "fine-tune from this model directory's weights (train.init_from)");
    s->add_option("--lora-rank", l->rank, "LoRA rank r: train adapters on the frozen --init-from");
    s->add_option("--lora-alpha", l->alpha, "LoRA alpha a (scale a/r; default r)");
    s->add_option("--lora-dropout", l->dropout, "LoRA dropout p (default 0)");
    s->add_option("--lora-targets", l->targets,
                  "module-name suffixes or the groups attn, ffn (default attn,ffn)");
    s->add_option("--stop-after", o->faults.stop_after, "test hook")->group("");
    s->add_option("--test-kill-in-checkpoint", o->faults.kill_in_checkpoint, "test hook")
        ->group("");
    s->add_option("--test-nan-from", o->faults.nan_from, "test hook")->group("");
    s->add_option("--test-kill-rank", o->faults.kill_rank, "test hook")->group("");
    s->add_option("--test-corrupt-rank", o->faults.corrupt_rank, "test hook")->group("");
    s->add_flag("!--dp-no-overlap", o->dp_overlap, "measurement hook")->group("");
    s->add_flag("!--dp-no-shard", o->dp_shard, "measurement hook")->group("");
    return s;
  };
  c.execute = [o, l]() -> int {
    const nlohmann::json init_from = l->init_from;  // quoted: a path is a JSON string
    if (!l->init_from.empty()) o->sets.push_back("train.init_from=" + init_from.dump());
    if (!l->rank.empty()) o->sets.push_back("train.lora_rank=" + l->rank);
    if (!l->alpha.empty()) o->sets.push_back("train.lora_alpha=" + l->alpha);
    if (!l->dropout.empty()) o->sets.push_back("train.lora_dropout=" + l->dropout);
    const nlohmann::json targets = l->targets;
    if (!l->targets.empty()) o->sets.push_back("train.lora_targets=" + targets.dump());
    return train::run_training(*o);
  };
  return c;
}

Command make_eval_command() {
  struct Opt {
    std::string model, glob, split = "all", run, lora;
    std::vector<std::string> data;
    int64_t batches = 20, batch_size = 8;
    uint64_t seed = 1337;
    int64_t ctx = 0;  // SPEC §10 --ctx; 0: the model's ctx_len
    CLI::Option *glob_opt = nullptr, *batches_opt = nullptr, *batch_size_opt = nullptr,
                *seed_opt = nullptr;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("eval", "loss and perplexity of a model on held-out text");
    s->add_option("-m,--model", o->model, "model directory or .gguf file")->required();
    s->add_option("--data", o->data,
                  "held-out text: a directory, a text file or a .jsonl file; repeatable "
                  "(--split train|val: defaults to the run's sources)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    o->glob_opt = s->add_option("--glob", o->glob,
                                "only files whose name matches this pattern in directories");
    s->add_option("--lora", o->lora, "apply this LoRA adapter directory (SPEC §12)");
    o->batches_opt = s->add_option("--batches", o->batches,
                                   "batches to score (0 = the whole text once; --split "
                                   "train|val: the run's eval_iters by default)")
                         ->capture_default_str()
                         ->check(CLI::NonNegativeNumber);
    o->batch_size_opt =
        s->add_option("--batch-size", o->batch_size, "windows of ctx_len tokens per batch")
            ->capture_default_str()
            ->check(CLI::PositiveNumber);
    o->seed_opt = s->add_option("-s,--seed", o->seed, "seed of the document order")
                      ->capture_default_str()
                      ->check(in_range<uint64_t>(0, UINT64_MAX));
    s->add_option("--ctx", o->ctx,
                  "window length N (beyond ctx_len only for pos_embedding \"rope\", NTK-scaled)");
    s->add_option("--split", o->split,
                  "all: every document under --data; train or val: a training run's own split "
                  "of its documents (as train made it)")
        ->capture_default_str();
    s->add_option("--run", o->run,
                  "--split train|val: the training run directory (default: the model's)");
    return s;
  };
  c.execute = [o]() -> int {
    const train::EvalSplit split = train::parse_eval_split(o->split);
    if (split == train::EvalSplit::All && o->data.empty())
      fail("eval: give --data PATH (held-out text), or --split val|train for a run's own split");
    if (split == train::EvalSplit::All && !o->run.empty())
      fail("eval: --run only goes with --split train|val");
    const auto model = nn::load_with_lora(o->model, o->lora, o->ctx);
    const data::Tokenizer tok = data::Tokenizer::load();
    if (model->cfg.vocab_size != tok.vocab_size())
      fail("{}: vocab_size = {} does not match the GPT-2 tokenizer's {}", o->model,
           model->cfg.vocab_size, tok.vocab_size());
    const int64_t T = model->cfg.ctx_len;
    std::vector<data::Batch> batches;
    if (split != train::EvalSplit::All) {
      const train::RunRecord run =
          train::read_run_record(train::find_run_directory(o->model, o->run));
      train::SplitOptions so;
      so.data = o->data;
      if (o->glob_opt->count()) so.glob = o->glob;
      if (o->batches_opt->count()) so.batches = o->batches;
      if (o->batch_size_opt->count()) so.batch_size = o->batch_size;
      if (o->seed_opt->count()) so.seed = o->seed;
      so.seq_len = T;
      train::SplitBatches sb = train::split_batches(run, split, so, tok);
      fmt::print("eval: {} threads; {}\n", threads::num_threads(), sb.description);
      batches = std::move(sb.batches);
    } else {
      const data::Corpus corpus = data::Corpus::scan(o->data, {o->glob, 0.0});  // every document
      const std::vector<data::Document>& docs = corpus.train();
      const int64_t B = o->batch_size;
      const int64_t tokens = train::count_tokens(docs, tok);
      const int64_t one_pass = (tokens - 1) / T / B;  // whole batches of T-token windows
      if (one_pass < 1)
        fail(
            "{} tokens of text are too few for one batch of {} × {} tokens; use a smaller "
            "--batch-size",
            tokens, B, T);
      const int64_t n = o->batches == 0 ? one_pass : std::min(o->batches, one_pass);
      fmt::print("eval: {} threads; data: {}; {} tokens\n", threads::num_threads(),
                 corpus.summary(), tokens);
      std::fflush(stdout);
      batches = data::fixed_batches(docs, tok, B, T, o->seed, n);
    }
    std::fflush(stdout);
    if (batches.empty()) fail("eval: no batches to score");
    const double loss = train::mean_eval_loss(*model, batches);
    const int64_t n = static_cast<int64_t>(batches.size()), B = batches.front().B;
    fmt::print("eval: {} batches × {} × {} = {} tokens | loss {:.4f} | perplexity {:.2f}\n", n, B,
               T, n * B * T, loss, std::exp(loss));
    if (split != train::EvalSplit::All)  // as precise as metrics.jsonl's "val_loss"
      fmt::print("eval: {} loss {:.17g}\n", o->split, loss);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
