#include "train/eval_split.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "data/corpus.h"
#include "data/token_shards.h"
#include "io/file_io.h"
#include "train/trainer.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;

bool is_run_directory(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(dir / "config.json", ec) &&
         fs::is_regular_file(dir / "latest", ec);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Windows of the run's eval (or as options say), from a split's documents.
SplitBatches text_batches(const RunRecord& run, EvalSplit split, const SplitOptions& o,
                          const data::Tokenizer& tok, const std::vector<std::string>& sources) {
  const TrainConfig& tc = run.config.train;
  const std::string glob = o.glob ? *o.glob : run.state.data_glob.value_or("");
  const data::Corpus corpus = data::Corpus::scan(sources, {glob, tc.val_fraction});
  // The training documents must be those the run streamed: same keys, same sizes.
  const data::BufferPosition pos = data::BufferPosition::from_json(run.state.data_position);
  const uint64_t fp = data::documents_fingerprint(corpus.train());
  if (pos.num_documents != static_cast<int64_t>(corpus.train().size()) || pos.fingerprint != fp)
    fail(
        "eval --split: the documents under {} (glob \"{}\", val_fraction {}) are not those run {} "
        "trained on ({} training documents, fingerprint {:016x}; found {}, {:016x}){}",
        fmt::join(sources, ", "), glob, tc.val_fraction, run.dir, pos.num_documents,
        pos.fingerprint, corpus.train().size(), fp,
        run.state.data_glob ? "; pass the run's --data and --glob"
                            : "; its checkpoint does not record the --glob it used: pass --glob");
  const std::vector<data::Document>& docs = split == EvalSplit::Val ? corpus.val() : corpus.train();
  if (docs.empty())
    fail("eval --split {}: run {} has no {} documents (val_fraction {})", eval_split_name(split),
         run.dir, eval_split_name(split), tc.val_fraction);
  const int64_t B = o.batch_size.value_or(tc.batch_size), T = o.seq_len;
  const uint64_t seed =
      o.seed.value_or(static_cast<uint64_t>(tc.seed) + (split == EvalSplit::Val ? 3 : 2));
  int64_t n = tc.eval_iters;  // the run's own batches, as training_run.cpp draws them
  std::string how = fmt::format("the run's eval batches (eval_iters {}, seed {})", n, seed);
  if (o.batches) {  // like `eval` on other text: capped to one pass, 0 = one whole pass
    const int64_t tokens = count_tokens(docs, tok), one_pass = (tokens - 1) / T / B;
    if (one_pass < 1)
      fail("eval --split {}: {} tokens are too few for one batch of {} × {} tokens",
           eval_split_name(split), tokens, B, T);
    n = *o.batches == 0 ? one_pass : std::min(*o.batches, one_pass);
    how = fmt::format("{} of one pass ({} tokens), seed {}", *o.batches == 0 ? "all" : "first",
                      tokens, seed);
  }
  SplitBatches out;
  out.batches = data::fixed_batches(docs, tok, B, T, seed, n);
  out.description =
      fmt::format("{} split of run {}: {} documents of {} ({}); {}", eval_split_name(split),
                  run.dir, docs.size(), corpus.summary(), fmt::join(sources, ", "), how);
  return out;
}

// SPEC §15 runs: the split's shards as one stream, its first batches (as train scores them).
SplitBatches shard_batches(const RunRecord& run, EvalSplit split, const SplitOptions& o,
                           const std::string& dir) {
  const std::vector<data::ShardFile> files =
      data::list_shards(dir, split == EvalSplit::Val ? "val" : "train");
  int64_t tokens = 0;
  for (const auto& f : files) tokens += f.tokens;
  const int64_t B = o.batch_size.value_or(run.config.train.batch_size), T = o.seq_len;
  const int64_t one_pass = (tokens - 1) / T / B;
  if (one_pass < 1)
    fail("eval --split {}: the {} shards in {} hold {} tokens, too few for one batch of {} × {}",
         eval_split_name(split), eval_split_name(split), dir, tokens, B, T);
  int64_t n = run.config.train.eval_iters;
  if (o.batches) n = *o.batches == 0 ? one_pass : std::min(*o.batches, one_pass);
  data::ShardStream stream(files, B, T);
  SplitBatches out;
  for (int64_t i = 0; i < n; ++i) out.batches.push_back(stream.next());
  out.description = fmt::format("{} split of run {}: {} shards in {}, {} tokens; first {} batches",
                                eval_split_name(split), run.dir, files.size(), dir, tokens, n);
  return out;
}

}  // namespace

EvalSplit parse_eval_split(const std::string& name) {
  for (EvalSplit s : {EvalSplit::All, EvalSplit::Train, EvalSplit::Val})
    if (name == eval_split_name(s)) return s;
  fail("--split {:?} is not a split (all, train, val)", name);
}

const char* eval_split_name(EvalSplit split) {
  switch (split) {
    case EvalSplit::All:
      return "all";
    case EvalSplit::Train:
      return "train";
    case EvalSplit::Val:
      return "val";
  }
  return "?";
}

std::string find_run_directory(const std::string& model_path, const std::string& run) {
  if (!run.empty()) {
    if (!is_run_directory(run))
      fail("--run {}: not a training run directory (no config.json and latest in it)", run);
    return run;
  }
  fs::path p = fs::path(model_path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "RUN/best/"
  const fs::path up1 = fs::absolute(p).parent_path();
  for (const fs::path& dir : {up1, up1.parent_path()})
    if (is_run_directory(dir)) return dir.string();
  fail(
      "eval --split: {} is not inside a training run directory (no config.json and latest next "
      "to it or two levels up); pass --run RUN_DIR",
      model_path);
}

RunRecord read_run_record(const std::string& run_dir) {
  RunRecord r;
  r.dir = run_dir;
  const fs::path dir(run_dir);
  const nlohmann::json config = read_json_file((dir / "config.json").string());
  if (!config.contains("train"))
    fail("{}: no \"train\" section: not the config.json of a training run",
         (dir / "config.json").string());
  r.config = RunConfig::from_json(config);
  const std::string name = trimmed(io::read_whole_file((dir / "latest").string()));
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    fail("{}: does not name a checkpoint", (dir / "latest").string());
  const std::string state = (dir / "checkpoints" / name / "trainer_state.json").string();
  if (!fs::exists(state)) fail("{}: missing (the run's latest checkpoint)", state);
  r.state = TrainerState::from_json(read_json_file(state), state);
  return r;
}

SplitBatches split_batches(const RunRecord& run, EvalSplit split, const SplitOptions& o,
                           const data::Tokenizer& tok) {
  TINYR2_CHECK(split != EvalSplit::All, "split_batches: a run's split, not all");
  const std::vector<std::string> sources = o.data.empty() ? run.state.data_sources : o.data;
  if (sources.empty()) fail("run {} records no data sources: pass --data", run.dir);
  for (const std::string& s : sources)
    if (!fs::exists(s))
      fail("data path not found: {} (run {} trained on it; pass --data if it moved)", s, run.dir);
  if (sources.size() == 1 && data::is_shard_directory(sources[0]))
    return shard_batches(run, split, o, sources[0]);
  return text_batches(run, split, o, tok, sources);
}

}  // namespace tinyr2::train
