// The sequence mixer: what fills the attention slot of a block (SPEC §2, §10). The block
// wraps it in rm1 and the hyper-connection (or plain residual); the mixer is the only part
// of a block that looks across positions, so it is also the only part with a decode state.
//
//   SequenceMixer  forward over a whole sequence (training, full forward), forward_cached
//                  over new positions against its own decode state (SPEC §7), the
//                  parameters it registered, its non-parameter FLOPs, its config name
//   MixerState     that decode state: one per layer and sequence, made by the layer's
//                  new_state() with the layer's shapes (FULL: k/v rows; Sparse: compressed
//                  keys, raw tail, selection rows, window rings), kept in nn::ModelCache
//
// Implementations: FULL (nn/full_attention.h), Sparse (nn/sparse_attention.h). Blocks get
// theirs from make_sequence_mixer (nn/mixer_factory.h), one table line per config name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/forward_context.h"
#include "nn/parameters.h"

namespace tinyr2::nn {

// What one layer keeps of the positions it has seen. A fresh or cleared state holds none.
class MixerState {
 public:
  virtual ~MixerState() = default;
  // Forgets every position; buffers keep their memory (a cleared state behaves like a new one).
  virtual void clear() = 0;
  // Bytes of cached values in use after the positions seen, as each state's layout documents
  // (FULL: k and v rows, 2·C floats per position; Sparse: compressed rows per complete
  // block, the raw tail — which drops the rows of a block once it completes —, selection
  // rows per position, window rings of at most w rows).
  virtual int64_t bytes() const = 0;
  virtual int64_t allocated_bytes() const = 0;  // bytes the buffers hold
};

class SequenceMixer {
 public:
  // p: where the layer registers its tensors, all named prefix + ..., e.g. "blocks.3.attn."
  // (the prefix also names its errors). Constructed before the layer's own members, so
  // everything registered in p under the prefix from here on is the layer's. p must outlive
  // the mixer (named_parameters() reads it).
  SequenceMixer(const Parameters& p, std::string prefix)
      : params_(&p), first_(p.all().size()), prefix_(std::move(prefix)) {}
  virtual ~SequenceMixer() = default;
  SequenceMixer(const SequenceMixer&) = delete;
  SequenceMixer& operator=(const SequenceMixer&) = delete;

  // The config's name of this layer type ("FULL", "Sparse", ...; SPEC §1 attention_types),
  // the same as its line in the table of nn/mixer_factory.cpp.
  virtual const char* type_name() const = 0;

  // x (B,T,C), normalised, positions 0 … T−1 → (B,T,C).
  virtual Tensor forward(ForwardContext& ctx, const Tensor& x) const = 0;

  // A new, empty decode state for one sequence of up to ctx_len positions.
  virtual std::unique_ptr<MixerState> new_state() const = 0;
  // Decoding (SPEC §7, B = 1): x_new (1,Tn,C) holds positions pos0 … pos0+Tn−1 of the
  // sequence whose first pos0 positions are in `state` (made by this layer's new_state());
  // extends the state by the new positions and returns their outputs (1,Tn,C), equal to
  // forward's on the whole sequence. Tn > 1 is a prefill (or a chunk); Tn = 1 a decode step.
  virtual Tensor forward_cached(ForwardContext& ctx, const Tensor& x_new, MixerState& state,
                                int64_t pos0) const = 0;

  // Batched decoding (SPEC §14, continuous batching): x (1,B,C) holds one new position of
  // each of B sequences — row b is position pos[b] of the sequence in states[b] (each made by
  // this layer's new_state()). Extends every state by its row and returns the outputs (1,B,C),
  // row b equal to forward_cached on that row alone. This default runs forward_cached row by
  // row; layers override it to project all rows in one GEMM (nn/mixer_batch.cpp).
  virtual Tensor forward_cached_batch(ForwardContext& ctx, const Tensor& x,
                                      const std::vector<MixerState*>& states,
                                      const std::vector<int64_t>& pos) const;

  // FLOPs per token of one training step (forward + backward) at sequence length T beyond
  // the 6·N of the layer's parameters (bench/workloads.h): the products between positions.
  virtual double flops_per_token(int64_t T) const = 0;

  // The tensors this layer registered (its own and its sub-modules', e.g. norms), with their
  // full state-dict names, in registration order.
  std::vector<NamedTensor> named_parameters() const;
  int64_t num_params() const;  // trained parameters (not buffers), elements
  const std::string& prefix() const { return prefix_; }

 protected:
  // The layer's own state type from a MixerState (an error naming the layer if it is not).
  template <typename S>
  S& state_as(MixerState& state) const {
    S* s = dynamic_cast<S*>(&state);
    if (!s)
      fail("{}: decode state of another layer type given to a {} layer", prefix_, type_name());
    return *s;
  }

 private:
  const Parameters* params_;
  size_t first_;  // index of the layer's first tensor in params_->all()
  std::string prefix_;
};

inline std::vector<NamedTensor> SequenceMixer::named_parameters() const {
  std::vector<NamedTensor> out;
  const auto& all = params_->all();
  for (size_t i = first_; i < all.size() && all[i].name.rfind(prefix_, 0) == 0; ++i)
    out.push_back(all[i]);
  return out;
}

inline int64_t SequenceMixer::num_params() const {
  int64_t n = 0;
  for (const NamedTensor& e : named_parameters())
    if (!e.buffer) n += e.tensor.numel();
  return n;
}

}  // namespace tinyr2::nn
