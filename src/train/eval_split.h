// `tinyr2 eval --split train|val` (SPEC §5 eval, §6 Data): score a model on the documents a
// training run itself trained or validated on, found again exactly as `train` split them.
//
// The run directory (SPEC §4) holds what that needs: config.json ("train": val_fraction, seed,
// batch_size, eval_iters) and the latest checkpoint's trainer_state.json (the --data sources,
// the --glob, and the data position whose fingerprint is the training documents' keys and
// sizes). The documents are scanned from those sources (or --data / --glob given to eval) with
// the run's val_fraction — data::Corpus splits by the documents' keys, so the same files give
// the same split on any machine — and the fingerprint check proves it: a difference is an
// error, never a silently different split.
//
// By default the batches are the run's own evaluation batches (data::fixed_batches with the
// run's batch_size, ctx_len, eval_iters and seed: seed + 3 for val, seed + 2 for train, as
// training_run.cpp draws them), so `eval -m RUN/best --split val` reproduces the val loss the
// run logged for best/ exactly. --batches N / --batch-size B / -s SEED change that (N = 0:
// one whole pass over the split). Runs trained on token shards (SPEC §15) score the first
// batches of the split's shard stream, as train does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/token_buffer.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace tinyr2::train {

enum class EvalSplit { All, Train, Val };

// "all", "train", "val"; anything else is an error naming the value.
EvalSplit parse_eval_split(const std::string& name);
const char* eval_split_name(EvalSplit split);

// What a run directory records about its data.
struct RunRecord {
  std::string dir;
  RunConfig config;    // RUN/config.json
  TrainerState state;  // RUN/latest's trainer_state.json
};

// The run directory a model belongs to: `run` if given; else the directory holding the model
// (a file inside RUN, or RUN/best) or the one two levels up (RUN/checkpoints/step-N), the
// first that holds config.json and latest. tinyr2::Error when there is none (naming --run).
std::string find_run_directory(const std::string& model_path, const std::string& run = "");

// Reads RUN/config.json and the trainer state of the checkpoint RUN/latest names.
RunRecord read_run_record(const std::string& run_dir);

struct SplitOptions {
  std::vector<std::string> data;  // sources; empty = the run's
  std::optional<std::string> glob;
  std::optional<int64_t> batches;  // 0 = one pass; unset = the run's eval_iters
  std::optional<int64_t> batch_size;
  std::optional<uint64_t> seed;
  int64_t seq_len = 0;  // window length (the model's ctx_len, or --ctx)
};

struct SplitBatches {
  std::vector<data::Batch> batches;
  std::string description;  // "val split of run R: D documents (...), N tokens; ..."
};

SplitBatches split_batches(const RunRecord& run, EvalSplit split, const SplitOptions& options,
                           const data::Tokenizer& tokenizer);

}  // namespace tinyr2::train
