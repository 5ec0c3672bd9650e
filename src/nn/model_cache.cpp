#include "nn/model_cache.h"

#include "nn/model.h"

namespace tinyr2::nn {

ModelCache::ModelCache(const Model& model) {
  for (const auto& block : model.blocks) layers_.push_back(block->attn->new_state());
}

void ModelCache::clear() {
  length_ = 0;
  for (auto& s : layers_) s->clear();
}

int64_t ModelCache::bytes() const {
  int64_t total = 0;
  for (const auto& s : layers_) total += s->bytes();
  return total;
}

int64_t ModelCache::allocated_bytes() const {
  int64_t total = 0;
  for (const auto& s : layers_) total += s->allocated_bytes();
  return total;
}

}  // namespace tinyr2::nn
