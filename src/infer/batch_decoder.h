// Decoding of several sequences at once (SPEC §14, continuous batching): a fixed number of
// slots, each with its own decode state (nn::ModelCache). A sequence enters a slot by a prefill
// of its prompt (one forward_cached over the prompt, as infer::Generator does); afterwards every
// step feeds one token to each of any subset of the slots in ONE batched forward
// (nn::Model::forward_batch): every projection, FFN and the head are one GEMM over the rows,
// attention runs per row against that slot's cache. A slot's logits do not depend on which
// other slots take part (within float rounding of the GEMM), so sequences may join and leave
// between steps. Sampling is the caller's (one infer::Sampler per sequence).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "nn/model.h"
#include "nn/model_cache.h"

namespace tinyr2::infer {

class BatchDecoder {
 public:
  BatchDecoder(const nn::Model& model, int64_t slots);

  int64_t slots() const { return static_cast<int64_t>(caches_.size()); }
  // Positions held by a slot.
  int64_t length(int64_t slot) const { return cache(slot).length(); }
  // Room for `tokens` more positions in a slot (ctx_len bounds every cache).
  bool has_room(int64_t slot, int64_t tokens) const {
    return length(slot) + tokens <= model_.cfg.ctx_len;
  }

  // Empties the slot and prefills the prompt (1 ≤ size ≤ ctx_len); returns the logits (V) of
  // the prompt's last token.
  Tensor prefill(int64_t slot, const std::vector<int32_t>& prompt);
  // One decode step: ids[i] goes to slot slots[i] (distinct slots, each with room for one more
  // position). Returns the logits (B,V), row i for slots[i].
  Tensor step(const std::vector<int64_t>& slots, const std::vector<int32_t>& ids);
  // Forgets a slot's positions (its buffers keep their memory for the next sequence).
  void release(int64_t slot) { cache(slot).clear(); }

 private:
  nn::ModelCache& cache(int64_t slot);
  const nn::ModelCache& cache(int64_t slot) const;

  const nn::Model& model_;
  std::vector<nn::ModelCache> caches_;
};

}  // namespace tinyr2::infer
