// Text generation (SPEC §5 `generate`, §7).
//
// The prompt is prefilled in one batched forward that fills the decode state (nn::ModelCache:
// one MixerState per block, built from the model); every later token
// costs one position (Model::forward_cached). With use_cache off, every step runs the full
// forward over the whole context instead — the check path, which must choose the same tokens.
// Generation stops at <|endoftext|> (not emitted) or after max_new_tokens.
//
// Context rule (SPEC §7): when the context — prompt plus generated tokens — would exceed
// ctx_len, it is cut to its last ctx_len/2 tokens (at least 1), positions restart at 0, and the
// cache is rebuilt by a prefill of what is left. Both paths apply the rule identically.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "infer/sampling.h"
#include "nn/model.h"
#include "nn/model_cache.h"

namespace tinyr2::infer {

struct GenerationOptions {
  int64_t max_new_tokens = 128;  // < 0: until <|endoftext|>
  SamplingParams sampling;
  uint64_t seed = 0;
  bool use_cache = true;
  int32_t eot = 50256;       // <|endoftext|>; ends generation, never emitted
  int64_t sample_vocab = 0;  // only ids [0, sample_vocab) are drawn; 0 = the model's vocabulary
};

struct GenerationStats {
  int64_t prompt_tokens = 0;          // after the context rule
  double prefill_seconds = 0;         // the prompt's forward (to its first logits)
  int64_t decode_steps = 0;           // forwards after the prefill (one per token fed back)
  double decode_seconds = 0;          // everything after the prefill: forwards, rebuilds, sampling
  int64_t context_cuts = 0;           // times the context rule cut the context (prompt included)
  int64_t cache_bytes = 0;            // peak bytes of cached values in use
  int64_t cache_allocated_bytes = 0;  // peak bytes the cache buffers held
};

// The context rule: when ids holds more than ctx_len tokens, keeps the last max(1, ctx_len/2).
// Returns whether it cut.
bool apply_context_rule(std::vector<int32_t>& ids, int64_t ctx_len);

class Generator {
 public:
  Generator(const nn::Model& model, GenerationOptions options);

  // Continues a non-empty prompt; on_token(id) runs as each token is chosen. Returns the
  // generated ids (without <|endoftext|>).
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt,
                                const std::function<void(int32_t)>& on_token = {});

  const GenerationStats& stats() const { return stats_; }
  // The tokens the model sees now (after the last generate: the final context).
  const std::vector<int32_t>& context() const { return context_; }

 private:
  Tensor prefill();         // logits (V) of the context's last token, cache rebuilt
  Tensor step(int32_t id);  // logits (V) after feeding id at the next position
  Tensor full_forward();    // logits (V) of the context's last token, no cache
  void note_cache();

  const nn::Model& model_;
  GenerationOptions options_;
  Sampler sampler_;
  nn::ModelCache cache_;  // one MixerState per block (nn/model_cache.h)
  std::vector<int32_t> context_;
  GenerationStats stats_;
};

// Turns a stream of token bytes into printable chunks: push() returns everything except a
// trailing UTF-8 sequence that is still incomplete (at most 3 bytes, held until the next push);
// finish() returns what is held. The concatenation of all returned chunks equals the
// concatenation of the pushed bytes, so invalid UTF-8 passes through unchanged.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);
  std::string finish();

 private:
  std::string pending_;
};

}  // namespace tinyr2::infer
