#include "train/lora_run.h"

#include <filesystem>

#include "core/error.h"
#include "io/sha256.h"
#include "nn/lora_files.h"

namespace tinyr2::train {

nn::LoraSpec lora_spec(const TrainConfig& tc) {
  nn::LoraSpec s;
  s.rank = tc.lora_rank;
  s.alpha = tc.lora_alpha;
  s.dropout = tc.lora_dropout;
  s.targets = nn::parse_lora_targets(tc.lora_targets);
  return s;
}

std::unique_ptr<nn::Model> make_fine_tuning_model(const RunConfig& rc, const std::string& ckpt_dir,
                                                  std::unique_ptr<nn::Model> ckpt_model) {
  const TrainConfig& tc = rc.train;
  if (ckpt_model) return ckpt_model;  // full fine-tuning, resumed
  const std::string& base = tc.init_from;
  if (!std::filesystem::is_directory(base) || !std::filesystem::exists(base + "/model.safetensors"))
    fail("--init-from {}: not a model directory (config.json + model.safetensors)", base);
  std::unique_ptr<nn::Model> model = nn::Model::load(base);
  const nlohmann::json want = rc.model.to_json(), have = model->cfg.to_json();
  for (auto it = want.begin(); it != want.end(); ++it)
    if (!have.contains(it.key()) || have.at(it.key()) != it.value())
      fail(
          "--init-from {}: the model config differs from the run's: \"{}\" is {} in {}/config.json",
          base, it.key(), have.contains(it.key()) ? have.at(it.key()).dump() : "absent", base);
  if (tc.lora_rank == 0) return model;

  nn::freeze(model->params);
  std::shared_ptr<nn::LoraAdapters> adapters;
  if (!ckpt_dir.empty()) {
    adapters = nn::load_adapter(ckpt_dir, *model, base);  // checks base_model_sha256
  } else {
    adapters = std::make_shared<nn::LoraAdapters>(model->params, lora_spec(tc));
    adapters->init(static_cast<uint64_t>(tc.seed) + 5);
  }
  adapters->base_name = base;
  adapters->base_sha256 = io::sha256_file_hex(base + "/model.safetensors");
  model->lora = adapters;
  return model;
}

}  // namespace tinyr2::train
