#include "nn/mixer_factory.h"

#include "core/error.h"
#include "nn/full_attention.h"
#include "nn/lfa_attention.h"
#include "nn/linear_attention.h"
#include "nn/mamba.h"
#include "nn/retention.h"
#include "nn/sparse_attention.h"

namespace tinyr2::nn {

namespace {

template <typename Layer>
std::unique_ptr<SequenceMixer> make(Parameters& p, const std::string& prefix,
                                    const ModelConfig& cfg, int64_t /*layer*/) {
  return std::make_unique<Layer>(p, prefix, cfg);
}

std::unique_ptr<SequenceMixer> make_sparse(Parameters& p, const std::string& prefix,
                                           const ModelConfig& cfg, int64_t layer) {
  return std::make_unique<SparseAttention>(p, prefix, cfg, cfg.branches(layer));
}

}  // namespace

const std::vector<MixerType>& mixer_types() {
  static const std::vector<MixerType> types = {
      {"FULL", AttentionType::Full, make<FullAttention>},        // SPEC §2.1
      {"Sparse", AttentionType::Sparse, make_sparse},            // SPEC §2.3
      {"Retention", AttentionType::Retention, make<Retention>},  // SPEC §10
      {"Mamba", AttentionType::Mamba, make<Mamba>},              // SPEC §10
      {"Linear", AttentionType::Linear, make<LinearAttention>},  // SPEC §10
      {"LFA", AttentionType::Lfa, make<LfaAttention>},           // SPEC §10
  };
  return types;
}

namespace {
const MixerType& entry(AttentionType type) {
  for (const MixerType& m : mixer_types())
    if (m.type == type) return m;
  fail("attention type {} has no entry in the mixer table (nn/mixer_factory.cpp)",
       static_cast<int>(type));
}
}  // namespace

const char* attention_type_name(AttentionType type) {
  return entry(type).name;
}

AttentionType attention_type_from_name(const std::string& name) {
  std::string known;
  for (const MixerType& m : mixer_types()) {
    if (name == m.name) return m.type;
    known += (known.empty() ? "\"" : ", \"") + std::string(m.name) + "\"";
  }
  fail("unknown attention type \"{}\" (known: {})", name, known);
}

std::unique_ptr<SequenceMixer> make_sequence_mixer(Parameters& p, const std::string& prefix,
                                                   const ModelConfig& cfg, int64_t layer) {
  return entry(cfg.attention_type(layer)).make(p, prefix, cfg, layer);
}

}  // namespace tinyr2::nn
