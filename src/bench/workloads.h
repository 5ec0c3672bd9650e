// Benchmark workloads shared by the Google Benchmark binary (bench/*.cpp, build/tinyr2-bench)
// and `tinyr2 bench compare` (bench/compare/): each is set up once, then run()
// does one timed unit of work. Nothing here prints or decides how long to measure; see
// bench/timing.h for that.
//
//   AttentionLayerWorkload  one FULL (SPEC §2.1) or Sparse NSA (§2.3) layer, forward +
//                           backward, B = 1, T tokens, the default config's widths
//   MoELayerWorkload        one DSMoE layer (§2.4), training-mode forward + backward
//   TrainStepWorkload       one optimizer step of train::Trainer (forward, backward, clip,
//                           Muon + AdamW, expert-bias update) on random token batches
//   sgemm_gflops            the machine's ceiling: best square sgemm rate
//
// Model FLOPs of a training step (the MFU numerator), per token:
//   6·N + 12·n_layer·T·C/2
// N = the non-embedding parameters a token activates (every block parameter and rm_f, only
// num_exp of the experts in a DSMoE layer) + the tied head's V·C (the token embedding is
// used once as a lookup and once as the output projection; only the latter is a product);
// 6 = 2 (multiply-add) × 3 (forward, input gradient, weight gradient). The second term is
// causal attention: QKᵀ and PV cost 2·2·T·C per token and layer forward, ×3 with backward,
// halved by the causal mask (PaLM, Chowdhery et al. 2022, appendix B). T = ctx_len. Each
// block's sequence mixer reports its part (SequenceMixer::flops_per_token): FULL layers
// 12·T·C/2 (all of them in the dense MFU configuration); a Sparse layer's attention is not a
// T×T product and is left out (its projections are in N).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "core/tensor.h"
#include "nn/config.h"
#include "nn/model.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace tinyr2::nn {
class FullAttention;
class SparseAttention;
class DSMoE;
}  // namespace tinyr2::nn

namespace tinyr2::bench {

// A tensor of N(0, std²) values from Rng(seed).
Tensor random_normal(const Shape& shape, uint64_t seed, float std = 1.f);

// ---- one attention layer ------------------------------------------------------------------

enum class AttentionKind { Full, Nsa };

class AttentionLayerWorkload {
 public:
  // The default ModelConfig with ctx_len = T (n_embd 256, 4 heads, NSA l = d = 16,
  // l′ = 32, 128 tokens kept, window 128); parameters from seed 1, x from 2, dy from 3.
  AttentionLayerWorkload(AttentionKind kind, int64_t T);
  ~AttentionLayerWorkload();
  AttentionLayerWorkload(const AttentionLayerWorkload&) = delete;
  AttentionLayerWorkload& operator=(const AttentionLayerWorkload&) = delete;

  void run();  // eval-mode forward of x (1,T,C), backward of dy, gradients zeroed
  int64_t tokens() const { return T_; }

 private:
  int64_t T_;
  nn::ModelConfig cfg_;
  nn::Parameters params_;
  std::unique_ptr<nn::FullAttention> full_;
  std::unique_ptr<nn::SparseAttention> nsa_;
  Tensor x_, dy_;
};

// ---- one DSMoE layer ----------------------------------------------------------------------

class MoELayerWorkload {
 public:
  // n_embd C, moe_hidden 4·C, x (tokens/T, T, C) with T = min(tokens, 256); gate noise on.
  MoELayerWorkload(int64_t n_experts, int64_t num_exp, int64_t tokens, int64_t n_embd = 256);
  ~MoELayerWorkload();
  MoELayerWorkload(const MoELayerWorkload&) = delete;
  MoELayerWorkload& operator=(const MoELayerWorkload&) = delete;

  void run();  // training-mode forward (+ balance loss) and backward, gradients zeroed
  int64_t tokens() const { return tokens_; }
  int64_t num_params() const { return params_.count(); }

 private:
  int64_t tokens_;
  nn::ModelConfig cfg_;
  nn::Parameters params_;
  std::unique_ptr<nn::DSMoE> moe_;
  Tensor x_, dy_;
  Rng rng_;
};

// ---- one training step ----------------------------------------------------------------------

// Uniform random token batches (B, T) over the vocabulary, targets likewise, from a seed.
class RandomBatchSource : public train::BatchSource {
 public:
  RandomBatchSource(int64_t B, int64_t T, int64_t vocab, uint64_t seed)
      : B_(B), T_(T), vocab_(vocab), rng_(seed) {}
  data::Batch next() override;
  nlohmann::json position() const override { return {{"batches", served_}}; }
  void restore(const nlohmann::json& p) override;

 private:
  int64_t B_, T_, vocab_;
  Rng rng_;
  int64_t served_ = 0;
};

class TrainStepWorkload {
 public:
  // The model initialised from train.seed, batches of train.batch_size × ctx_len (×
  // grad_accum micro-batches per step), the trainer with the config's recipe.
  explicit TrainStepWorkload(const train::RunConfig& rc);

  train::StepResult run();  // one optimizer step
  int64_t tokens_per_step() const;
  const nn::Model& model() const { return *model_; }
  const train::Trainer& trainer() const { return *trainer_; }

 private:
  train::RunConfig rc_;
  std::unique_ptr<nn::Model> model_;
  std::unique_ptr<RandomBatchSource> source_;
  std::unique_ptr<train::Trainer> trainer_;
};

// The dense MFU configuration: n_embd 512, n_head 8, n_layer 4, every layer FULL attention +
// MLP, hc false, GPT-2 vocabulary (50257), ctx_len T; train.batch_size B, the default recipe.
train::RunConfig dense512_config(int64_t B = 4, int64_t T = 512);

// ---- model FLOPs (formula at the top of this file) ---------------------------------------------

struct ModelFlops {
  int64_t n_active = 0;            // N: non-embedding active parameters + V·C
  double per_token = 0;            // 6·N + 12·n_full_layers·T·C/2
  double attention_per_token = 0;  // the 12·n_full_layers·T·C/2 part
  static constexpr const char* kFormula =
      "6*N + 12*n_layer*T*C/2 per token (FULL layers; N = active non-embedding parameters + V*C "
      "of the tied head)";
};
ModelFlops training_flops(const nn::Model& model, int64_t T);

// FLOPs of Muon's Newton–Schulz iterations in one optimizer step (not model FLOPs): per
// parameter seen as m×n with m ≤ n, each of ns_steps iterations costs XXᵀ (2m²n), A·A (2m³)
// and B·X (2m²n).
double muon_flops_per_step(const train::ParamGroups& groups, int64_t ns_steps = 5);

// ---- the sgemm ceiling ------------------------------------------------------------------------

// GFLOP/s of C = A·B for n×n matrices (2n³ per product): the median of products timed for at
// least min_seconds (at least 3) after one warm-up product.
double sgemm_gflops(int64_t n, double min_seconds);

}  // namespace tinyr2::bench
