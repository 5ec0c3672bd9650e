// Checkpoints of a training run (SPEC §4, run directory):
//
//   RUN/checkpoints/step-NNNNNNNN/     (N = optimizer steps completed, 8 digits)
//       config.json, model.safetensors  a model directory (nn::Model::load reads it)
//       optimizer.safetensors           Muon momentum + AdamW moments and step counts
//       trainer_state.json              step, RNG state, data position, best val loss, ...
//   RUN/latest                          "step-NNNNNNNN\n": the newest complete checkpoint
//   RUN/best/                           a model directory: the lowest val loss so far
//
// Atomicity: a checkpoint is written into checkpoints/.tmp-step-NNNNNNNN/ and renamed into
// place when complete, and `latest` is replaced by rename after that; so a crash at any
// moment leaves `latest` naming a complete checkpoint (a leftover .tmp-* directory is
// removed by the next write). best/ is written as best.tmp/ and swapped in by renames.
// Old checkpoints beyond keep_checkpoints (counting back from the one just written) are
// deleted, as are checkpoints numbered after it (left by a run that was resumed earlier).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "nn/model.h"

namespace tinyr2::train {

// Everything besides the model and the optimizer state that a bit-exact resume needs.
struct TrainerState {
  int64_t step = 0;                       // optimizer steps completed
  uint64_t rng_seed = 0, rng_offset = 0;  // the gate-noise / dropout stream
  nlohmann::json data_position;           // the batch source's position (data::BufferPosition)
  double best_val_loss = std::numeric_limits<double>::infinity();  // inf: none yet (null)
  int64_t nonfinite_in_a_row = 0;                                  // consecutive skipped steps
  int64_t nonfinite_total = 0;                                     // skipped steps in the whole run
  int64_t tokens_seen = 0;                // training tokens consumed (all micro-batches)
  double elapsed_s = 0;                   // training wall time so far
  std::vector<std::string> data_sources;  // the --data paths (defaults for --resume)
  // The --glob of directory sources ("" = none; absent in older checkpoints: nullopt), read
  // by `eval --split` to find the run's documents again.
  std::optional<std::string> data_glob;

  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j, const std::string& source);
};

std::string checkpoint_name(int64_t step);  // "step-00000050"

// Test hook: called with a stage name ("model", "optimizer", "state") after that part of
// the checkpoint is written, before the directory is renamed into place.
using CheckpointHook = std::function<void(const char* stage)>;

// Writes RUN/checkpoints/step-N/ (see above), updates `latest`, prunes old checkpoints.
void write_checkpoint(const std::string& run_dir, const nn::Model& model,
                      const std::map<std::string, Tensor>& optimizer_state,
                      const TrainerState& state, int64_t keep_checkpoints,
                      const CheckpointHook& hook = {});

// Writes a model directory atomically: DIR.tmp, then renamed over DIR.
void write_model_dir(const std::string& dir, const nn::Model& model);

struct Checkpoint {
  std::string dir;
  std::unique_ptr<nn::Model> model;  // null for a LoRA run's checkpoint (adapter files in dir)
  std::map<std::string, Tensor> optimizer_state;
  TrainerState state;
};

// Loads the checkpoint `RUN/latest` names. tinyr2::Error (one line, naming the file) when
// there is none, or any part is missing or malformed.
Checkpoint load_latest_checkpoint(const std::string& run_dir);

}  // namespace tinyr2::train
