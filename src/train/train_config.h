// The training recipe (SPEC §6): the "train" section of config.json, and the run's whole
// configuration (model keys + "train") with `--set key=value` overrides.
//
//   RunConfig rc = load_run_config("configs/default.json", {"train.lr=3e-3", "n_layer=2"});
//   rc.model  → nn::ModelConfig (SPEC §1, validated by the model's own reader)
//   rc.train  → TrainConfig (below)
//   rc.to_json() → the resolved file written to the run directory's config.json
//
// Parsing is strict, like the model config: an unknown key, a value of the wrong JSON type
// or out of range throws tinyr2::Error naming "train.<key>" (model keys are named by
// nn::ModelConfig as `config: "<key>" ...`).
//
// Overrides. `--set KEY=VALUE` (repeatable, applied in order, before validation): KEY is a
// model key ("n_embd") or "train.<key>" ("train.max_iters"); VALUE is parsed as JSON
// (`3e-3`, `true`, `["FULL"]`, `"x"`), and if that fails it is taken as a string
// (`branch_gate=sigmoid`). An override may add a key the file lacks; an unknown key is then
// rejected by validation like one written in the file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config.h"

namespace tinyr2::train {

struct TrainConfig {
  int64_t batch_size = 8;       // sequences per micro-batch (each ctx_len tokens)
  int64_t grad_accum = 1;       // micro-batches per optimizer step
  int64_t max_iters = 200;      // optimizer steps
  int64_t warmup_iters = 20;    // linear warmup steps
  double lr = 1e-3;             // AdamW peak rate
  double min_lr = 1e-4;         // AdamW rate at max_iters (cosine end)
  double muon_lr = 0.02;        // Muon peak rate (same multiplier as lr)
  double muon_momentum = 0.95;  // in [0, 1)
  double muon_weight_decay = 0.0;
  double weight_decay = 0.1;                  // AdamW, ≥2-D parameters only
  std::array<double, 2> betas = {0.9, 0.95};  // AdamW, each in [0, 1)
  double eps = 1e-8;                          // AdamW, > 0
  double max_grad_norm = 1.0;                 // global-norm clip; 0 = no clipping
  int64_t eval_interval = 50;                 // steps between evaluations (and at the end)
  int64_t eval_iters = 10;                    // batches per evaluation, on each of val and train
  int64_t checkpoint_interval = 50;           // steps between checkpoints (and at the end)
  double val_fraction = 0.05;                 // documents held out for validation, in [0, 1)
  int64_t seed = 1337;                        // init, data order, gate noise and dropout (≥ 0)
  int64_t keep_checkpoints = 3;               // newest checkpoints kept (≥ 1)
  // Matrix products: "fp32", or "bf16" (bf16 operands, fp32 accumulation; weights, optimizer
  // state, norms, softmax, losses and checkpoints stay fp32) — SPEC §13.
  std::string precision = "fp32";
  // SPEC §15: 1 shards the optimizer state across data-parallel ranks by whole tensors
  // (ZeRO-1); 0 keeps a full copy on every rank. No effect in a single process.
  int64_t zero = 0;
  // SPEC §12: start from this model directory's weights (--init-from; "" = a fresh init).
  std::string init_from;
  // LoRA (SPEC §12, nn/lora.h): rank r > 0 trains adapters on the frozen init_from model;
  // alpha 0 means r; targets as --lora-targets.
  int64_t lora_rank = 0;
  double lora_alpha = 0;
  double lora_dropout = 0;
  std::string lora_targets = "attn,ffn";

  // Reads a "train" object (missing keys keep their defaults); strict as described above.
  static TrainConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;  // every key
};

struct RunConfig {
  nn::ModelConfig model;
  TrainConfig train;

  // A whole config object: model keys plus an optional "train" object.
  static RunConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;  // model keys (resolved) + "train" (every key)
};

// Applies one "KEY=VALUE" override to a config object (see above). tinyr2::Error when the
// text has no '=', the key is empty, or it has a dot but is not "train.<key>".
void apply_override(nlohmann::json& config, const std::string& assignment);

// Reads a JSON file (tinyr2::Error: unreadable, invalid JSON, not an object).
nlohmann::json read_json_file(const std::string& path);

// Reads `path`, applies the overrides in order, validates. Errors are prefixed with the path.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace tinyr2::train
