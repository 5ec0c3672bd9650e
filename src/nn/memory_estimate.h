// A rough lower bound of the memory a model needs, from its config alone, so that an
// oversized config is refused with what would need how much before anything is allocated —
// not "internal error: std::bad_alloc" (issue 19). Counted: the weights (embedding, the MLA
// projections, the feed-forward matrices — two per MLP, three per GLU and per GLU expert;
// small vectors and the Sparse branches' extras left out), for training also their gradients
// and two optimizer moments and each layer's residual stream.
// Being a lower bound it refuses only configs that cannot fit.
//
//   nn::check_memory(cfg, "init", {});                         // weights only
//   nn::check_memory(cfg, "train", {.batch = 8, .training = true});
#pragma once

#include <cstdint>
#include <string>

#include "nn/config.h"

namespace tinyr2::nn {

struct MemoryUse {
  int64_t batch = 1;      // sequences of ctx_len tokens at once
  bool training = false;  // gradients, optimizer state, activations
};

struct MemoryEstimate {
  double params = 0;       // parameter count (lower bound)
  double weights = 0;      // bytes
  double training = 0;     // bytes: gradients + optimizer state
  double activations = 0;  // bytes: when training, the residual stream kept per layer
  double total() const { return weights + training + activations; }
};

MemoryEstimate estimate_memory(const ModelConfig& cfg, const MemoryUse& use);

// Throws tinyr2::Error "<context>: this model needs at least X (...), more than the Y
// available" when the estimate exceeds memory::available_bytes() (skipped if unknown).
void check_memory(const ModelConfig& cfg, const std::string& context, const MemoryUse& use);

}  // namespace tinyr2::nn
