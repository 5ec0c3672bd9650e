// The sequence-mixer types (SPEC §1 attention_types, §2.1, §2.3, §10): one table, one line
// per type, mapping the config's name to its AttentionType and to the constructor of its
// SequenceMixer (nn/sequence_mixer.h). The config parses and writes attention_types through
// this table, and blocks build their mixers from it, so a new layer type is:
//   1. a value in AttentionType (nn/config.h),
//   2. its layer, a SequenceMixer with its MixerState, in nn/<layer>.{h,cpp} (kernels and
//      autograd ops as needed, the PyTorch reference in reference/),
//   3. one line in the table in nn/mixer_factory.cpp.
// Nothing else — the block, the decode cache (nn/model_cache.h) and the benchmark FLOP count
// (bench/workloads.h) ask the mixer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::nn {

struct MixerType {
  const char* name;  // as written in config.json, e.g. "FULL"
  AttentionType type;
  // The layer of block `layer` (its per-layer options, e.g. Sparse's branches, come from
  // cfg), registering its tensors in p under prefix.
  std::unique_ptr<SequenceMixer> (*make)(Parameters& p, const std::string& prefix,
                                         const ModelConfig& cfg, int64_t layer);
};

// Every type, in the order the config's error messages list them.
const std::vector<MixerType>& mixer_types();

// The config name of a type, and the type of a name (an error naming `name` and the known
// names if there is none).
const char* attention_type_name(AttentionType type);
AttentionType attention_type_from_name(const std::string& name);

// The sequence mixer of block `layer`: the type cfg.attention_type(layer), its tensors
// registered in p under prefix (the block's "blocks.{i}.attn.").
std::unique_ptr<SequenceMixer> make_sequence_mixer(Parameters& p, const std::string& prefix,
                                                   const ModelConfig& cfg, int64_t layer);

}  // namespace tinyr2::nn
