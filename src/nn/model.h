// A Tiny-R2 model (SPEC §2): embeddings, blocks, final norm, tied head, and the loss.
// Built from a ModelConfig; saved and loaded as a model directory (config.json +
// model.safetensors, SPEC §4).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/index_tensor.h"
#include "nn/block.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"
#include "nn/rmsnorm.h"

namespace tinyr2::nn {

struct ModelOutput {
  Tensor logits;  // (B, T, V)
  Tensor loss;    // ce + moe_balance_coef · bal (when targets were given)
  Tensor ce;      // mean cross-entropy
  Tensor bal;     // mean load-balance loss over MoE layers (0 without MoE)
};

class Model {
 public:
  explicit Model(const ModelConfig& cfg);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  void init(uint64_t seed) { params.init_all(seed); }

  // ids (B,T) token ids; targets (B,T) or nullptr (then only logits).
  ModelOutput forward(ForwardContext& ctx, const IndexTensor& ids,
                      const IndexTensor* targets = nullptr) const;

  // Model directory I/O.
  static std::unique_ptr<Model> load(const std::string& dir);
  void save(const std::string& dir) const;

  int64_t num_params() const { return params.count(); }
  int64_t active_params_per_token() const;
  std::vector<DSMoE*> moe_layers() const;

  ModelConfig cfg;
  Parameters params;
  Tensor token_embedding, position_embedding;
  std::vector<std::unique_ptr<Block>> blocks;
  std::unique_ptr<RMSNorm> rm_f;
};

}  // namespace tinyr2::nn
