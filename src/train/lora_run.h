// Fine-tuning runs (SPEC §12): `train --init-from MODEL_DIR` starts from that model's weights;
// with `--lora-rank r` (train.lora_rank) the base is frozen — no gradient, no optimizer
// state, no expert-bias update — and only the adapters train (AdamW). A LoRA run's
// checkpoints and best/ hold the adapter files (nn/lora_files.h) instead of the model;
// --resume reloads the base from train.init_from and the adapters from the checkpoint.
#pragma once

#include <memory>
#include <string>

#include "nn/model.h"
#include "train/train_config.h"

namespace tinyr2::train {

// The model of a run with rc.train.init_from set. ckpt_dir / ckpt_model: the checkpoint
// resumed from ("" / null when starting); a full fine-tuning checkpoint's model is returned
// as it is. Errors: the base's config differs from rc.model, the base is not a model
// directory, the adapter does not fit.
std::unique_ptr<nn::Model> make_fine_tuning_model(const RunConfig& rc, const std::string& ckpt_dir,
                                                  std::unique_ptr<nn::Model> ckpt_model);

// The LoRA spec of a run's train keys.
nn::LoraSpec lora_spec(const TrainConfig& tc);

}  // namespace tinyr2::train
