// One transformer block (SPEC §2): a sequence-mixer branch (the attention slot: FULL,
// Sparse, ... — nn/sequence_mixer.h, made by nn/mixer_factory.h from the config's
// attention type) and an FFN branch, each pre-normed and wrapped in hyper-connections (or a
// plain residual when there is one stream).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/glu.h"
#include "nn/hyper_connection.h"
#include "nn/mlp.h"
#include "nn/moe.h"
#include "nn/rmsnorm.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

class Block {
 public:
  Block(Parameters& p, int64_t index, const ModelConfig& cfg);
  // Streams R (N,S,C) with hyper-connections, else x (B,T,C); `btc` is (B,T,C).
  Tensor forward(ForwardContext& ctx, const Tensor& R, const Shape& btc) const;
  // Decoding (SPEC §7): the same block on new positions pos0 … of one sequence (B = 1), the
  // mixer reading and extending its decode state (made by attn->new_state()).
  Tensor forward_cached(ForwardContext& ctx, const Tensor& R, const Shape& btc, MixerState& state,
                        int64_t pos0) const;

  // Batched decoding (SPEC §14): R holds one new position of each of B sequences as one
  // sequence of B tokens (btc = (1,B,C)); row b is position pos[b] of the sequence whose
  // state for this block is states[b] (SequenceMixer::forward_cached_batch).
  Tensor forward_cached_batch(ForwardContext& ctx, const Tensor& R, const Shape& btc,
                              const std::vector<MixerState*>& states,
                              const std::vector<int64_t>& pos) const;

  Tensor attention(ForwardContext& ctx, const Tensor& x) const;  // attn(rm1(x))
  Tensor attention_cached(ForwardContext& ctx, const Tensor& x, MixerState& state,
                          int64_t pos0) const;
  Tensor ffn(ForwardContext& ctx, const Tensor& x) const;  // ffn(rm2(x))

  int64_t index;
  RMSNorm rm1, rm2;
  std::unique_ptr<SequenceMixer> attn;  // "blocks.{i}.attn."
  std::unique_ptr<MLP> mlp;
  std::unique_ptr<GLU> glu;  // SPEC §11
  std::unique_ptr<DSMoE> moe;
  std::unique_ptr<HyperConnection> hc_attn, hc_ffn;

 private:
  // The residual / hyper-connection wiring around attn and ffn, shared by both forwards.
  Tensor wire(ForwardContext& ctx, const Tensor& R, const Shape& btc,
              const std::function<Tensor(const Tensor&)>& mixer) const;
};

}  // namespace tinyr2::nn
