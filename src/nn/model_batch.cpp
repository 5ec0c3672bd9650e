// Model::forward_batch (SPEC §14 continuous batching): one decode step of B sequences, each
// with its own cache. The B new tokens form one sequence of B tokens (1,B,·) at their own
// positions: embeddings, norms, FFN / DSMoE, hyper-connections and the tied head are
// per-token, so they run once over all rows; each block's mixer attends per row against that
// row's state (SequenceMixer::forward_cached_batch).
#include <set>

#include "autograd/ops.h"
#include "core/error.h"
#include "nn/model.h"
#include "nn/quantized.h"

namespace tinyr2::nn {

Tensor Model::forward_batch(ForwardContext& ctx, const std::vector<int32_t>& ids,
                            const std::vector<ModelCache*>& caches) const {
  TINYR2_CHECK(!ctx.training, "batched decoding is for evaluation only");
  TINYR2_CHECK(!ids.empty() && ids.size() == caches.size(),
               "batched decoding of {} tokens with {} caches", ids.size(), caches.size());
  const auto B = static_cast<int64_t>(ids.size());
  std::vector<int32_t> pos(ids.size());
  std::vector<int64_t> pos64(ids.size());
  std::set<const ModelCache*> distinct;
  for (size_t b = 0; b < ids.size(); ++b) {
    if (ids[b] < 0 || ids[b] >= cfg.vocab_size)
      fail("token id {} is outside the vocabulary [0, {})", ids[b], cfg.vocab_size);
    const ModelCache* c = caches[b];
    TINYR2_CHECK(c && c->num_layers() == blocks.size(),
                 "batched decoding: cache {} is not this "
                 "model's",
                 b);
    TINYR2_CHECK(distinct.insert(c).second, "batched decoding: cache {} given twice", b);
    if (c->length() + 1 > cfg.ctx_len)
      fail("{} cached + 1 new token exceed ctx_len = {}", c->length(), cfg.ctx_len);
    pos[b] = static_cast<int32_t>(c->length());
    pos64[b] = c->length();
  }
  std::vector<MixerState*> states(ids.size());
  const Tensor h = hidden_with(ctx, IndexTensor({1, B}, ids), pos,
                               [&](size_t i, const Tensor& R, const Shape& btc) {
                                 for (size_t b = 0; b < caches.size(); ++b)
                                   states[b] = &caches[b]->layer(i);
                                 return blocks[i]->forward_cached_batch(ctx, R, btc, states, pos64);
                               });
  for (size_t b = 0; b < caches.size(); ++b) caches[b]->set_length(pos64[b] + 1);
  const Tensor logits =
      linear(ctx, h, token_embedding);  // tied head (quantized from a GGUF), (1,B,V)
  return logits.view({B, cfg.vocab_size});
}

}  // namespace tinyr2::nn
