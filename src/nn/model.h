// A Tiny-R2 model (SPEC §2): embeddings, blocks, final norm, tied head, and the loss.
// Built from a ModelConfig; saved and loaded as a model directory (config.json +
// model.safetensors, SPEC §4).
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/index_tensor.h"
#include "nn/block.h"
#include "nn/config.h"
#include "nn/forward_context.h"
#include "nn/lora.h"
#include "nn/model_cache.h"
#include "nn/parameters.h"
#include "nn/quantized.h"
#include "nn/rmsnorm.h"

namespace tinyr2::nn {

struct ModelOutput {
  Tensor logits;  // (B, T, V) — only without targets (the loss path never forms the logits)
  Tensor loss;    // ce + moe_balance_coef · bal (when targets were given)
  Tensor ce;      // mean cross-entropy
  Tensor bal;     // mean load-balance loss over MoE layers (0 without MoE)
};

class Model {
 public:
  explicit Model(const ModelConfig& cfg);
  // A model whose tensors named in `unfilled` stay unfilled (Parameters::leave_unfilled): the
  // quantized matrices of a GGUF model, found through `quantized` instead.
  Model(const ModelConfig& cfg, const std::set<std::string>& unfilled);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  void init(uint64_t seed) { params.init_all(seed); }

  // ids (B,T) token ids; targets (B,T) → the losses (and no logits), or nullptr → logits.
  ModelOutput forward(ForwardContext& ctx, const IndexTensor& ids,
                      const IndexTensor* targets = nullptr) const;

  // Decoding (SPEC §7, eval mode): ids (1,Tn) are the next Tn tokens of the sequence held in
  // `cache` (from new_cache()), at positions cache.length() … cache.length()+Tn−1 (at most
  // ctx_len). Runs them in one batched pass — a prefill when the cache is empty, one decode step
  // when Tn = 1 — appends them to the cache and returns their logits (1,Tn,V), or only the last
  // token's (1,1,V) when last_only. The logits equal those of forward on the whole sequence.
  Tensor forward_cached(ForwardContext& ctx, const IndexTensor& ids, ModelCache& cache,
                        bool last_only = false) const;

  // Batched decoding (SPEC §14, continuous batching): ids[b] is the next token of the sequence
  // held in caches[b] (at position caches[b]->length(); the caches are distinct). One forward
  // over all B rows — every per-token product one GEMM over the B rows, attention per row
  // against its own cache — appends each token to its cache and returns the logits (B,V),
  // row b equal to forward_cached of ids[b] alone on caches[b] (nn/model_batch.cpp).
  Tensor forward_batch(ForwardContext& ctx, const std::vector<int32_t>& ids,
                       const std::vector<ModelCache*>& caches) const;

  // An empty decode state for one sequence: one MixerState per block (nn/model_cache.h).
  ModelCache new_cache() const { return ModelCache(*this); }

  // Model directory I/O; load also takes a GGUF file (SPEC §13, nn/gguf_model.h). ctx > 0 is `--ctx
  // N` (SPEC §10, nn::with_context_limit): the context limit becomes N, beyond ctx_len only for
  // RoPE models (NTK-scaled).
  static std::unique_ptr<Model> load(const std::string& dir, int64_t ctx = 0);
  // With LoRA adapters: config.json + the adapter files (nn/lora_files.h), no base weights.
  void save(const std::string& dir) const;

  int64_t num_params() const { return params.count(); }
  int64_t active_params_per_token() const;
  std::vector<DSMoE*> moe_layers() const;

  ModelConfig cfg;
  Parameters params;
  Tensor token_embedding, position_embedding;  // position table undefined with RoPE positions
  std::vector<std::unique_ptr<Block>> blocks;
  std::unique_ptr<RMSNorm> rm_f;
  // Set when loaded from a Q8_0 / Q4_0 GGUF file: the quantized matrices (nn/quantized.h).
  std::shared_ptr<const QuantizedWeights> quantized;
  // LoRA adapters on the Linears (SPEC §12; nn/lora.h), or null: every forward applies them.
  std::shared_ptr<const LoraAdapters> lora;

 private:
  // rm_f(reduce(blocks(embed(ids)))) (B,T,C) for tokens at positions pos0 …; with a cache
  // every block reads and extends its layer cache.
  Tensor hidden(ForwardContext& ctx, const IndexTensor& ids, int64_t pos0, ModelCache* cache) const;
  // rm_f(reduce(blocks(embed(ids)))) for ids (B,T) at positions pos (T entries), each block
  // applied by block(i, R, btc).
  Tensor hidden_with(ForwardContext& ctx, const IndexTensor& ids, const std::vector<int32_t>& pos,
                     const std::function<Tensor(size_t, const Tensor&, const Shape&)>& block) const;
};

}  // namespace tinyr2::nn
