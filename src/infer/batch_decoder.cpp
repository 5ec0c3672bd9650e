#include "infer/batch_decoder.h"

#include "core/error.h"

namespace tinyr2::infer {

BatchDecoder::BatchDecoder(const nn::Model& model, int64_t slots) : model_(model) {
  TINYR2_CHECK(slots >= 1, "a batch decoder needs at least one slot, got {}", slots);
  for (int64_t i = 0; i < slots; ++i) caches_.push_back(model.new_cache());
}

nn::ModelCache& BatchDecoder::cache(int64_t slot) {
  TINYR2_CHECK(slot >= 0 && slot < slots(), "slot {} of {}", slot, slots());
  return caches_[static_cast<size_t>(slot)];
}

const nn::ModelCache& BatchDecoder::cache(int64_t slot) const {
  TINYR2_CHECK(slot >= 0 && slot < slots(), "slot {} of {}", slot, slots());
  return caches_[static_cast<size_t>(slot)];
}

Tensor BatchDecoder::prefill(int64_t slot, const std::vector<int32_t>& prompt) {
  nn::ModelCache& c = cache(slot);
  c.clear();
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  const auto T = static_cast<int64_t>(prompt.size());
  const Tensor logits =
      model_.forward_cached(ctx, IndexTensor({1, T}, prompt), c, /*last_only=*/true);
  return logits.view({model_.cfg.vocab_size});
}

Tensor BatchDecoder::step(const std::vector<int64_t>& slots, const std::vector<int32_t>& ids) {
  TINYR2_CHECK(slots.size() == ids.size(), "{} slots for {} tokens", slots.size(), ids.size());
  std::vector<nn::ModelCache*> caches;
  for (int64_t s : slots) caches.push_back(&cache(s));
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  return model_.forward_batch(ctx, ids, caches);
}

}  // namespace tinyr2::infer
