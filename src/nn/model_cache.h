// The decode state of one sequence (SPEC §7): how many positions have been seen and, per
// block, its sequence mixer's MixerState (nn/sequence_mixer.h) — so that a new token costs
// one position instead of a full forward. What each state holds is the layer's business
// (FullAttentionState in nn/full_attention.h, SparseAttentionState in nn/sparse_attention.h);
// MLPs, DSMoE and hyper-connections work per token and need nothing cached.
//
// Built from the model (ModelCache(model) or model.new_cache()); Model::forward_cached reads
// and extends it; infer::Generator keeps one per generation.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

class Model;

class ModelCache {
 public:
  explicit ModelCache(const Model& model);  // one empty state per block, from its mixer

  // Positions cached so far; the next token goes to position length().
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }  // Model::forward_cached advances it
  // Forgets every position (the buffers keep their memory).
  void clear();

  int64_t bytes() const;            // bytes of cached values in use, all layers
  int64_t allocated_bytes() const;  // bytes the buffers hold, all layers

  size_t num_layers() const { return layers_.size(); }
  MixerState& layer(size_t i) { return *layers_[i]; }  // block i's state
  const MixerState& layer(size_t i) const { return *layers_[i]; }

 private:
  std::vector<std::unique_ptr<MixerState>> layers_;
  int64_t length_ = 0;
};

}  // namespace tinyr2::nn
