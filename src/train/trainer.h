// The training loop (SPEC §6); the `tinyr2 train` run around it is training_run.h.
//
// One optimizer step (Trainer::step), with e = steps done so far (0-based):
//   1. grad_accum micro-batches: training-mode forward (gate noise and dropout draw from the
//      trainer's seeded Rng), backward seeded with 1/grad_accum, so the gradients are those of
//      the mean loss; the reported loss/ce/bal are the micro-batch means.
//   2. norm = global gradient norm over every parameter, clipped to max_grad_norm.
//   3. If the loss or the norm is not finite, the step is skipped: gradients and MoE routing
//      counts are dropped, no optimizer step, no bias update (the step still counts, so the
//      schedule and the data stream move on).
//   4. Otherwise AdamW steps with lr_at(e) and Muon with muon_lr · lr_multiplier(e).
//   5. Every DSMoE layer's expert_bias moves by the tokens routed to each expert over all the
//      step's micro-batches (§2.4 step 6).
//   6. Gradients are dropped.
//
// Parameter groups: Muon takes every `blocks.*` parameter with ≥ 2 dims except the NSA
// block compressor (`block_compressor.*`), `intra_block_pos_encoding` and the
// hyper-connection tensors (`hc_attn.*`, `hc_ffn.*`); AdamW takes every other parameter
// (embeddings — also the tied head —, norms, lamb*, HC tensors, ...). Buffers (expert_bias)
// are in neither. A LoRA model (SPEC §12) trains only its adapters, all with AdamW; its
// frozen base keeps its expert biases too.
//
// Evaluation losses are the mean cross-entropy (nats/token; without the balance term) over a
// fixed list of batches, in eval mode (no noise, no dropout) without recording gradients.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "data/token_buffer.h"
#include "data/token_shards.h"
#include "nn/model.h"
#include "optim/adamw.h"
#include "optim/muon.h"
#include "train/distributed.h"
#include "train/distributed_optim.h"
#include "train/fault_injection.h"
#include "train/train_config.h"

namespace tinyr2::train {

// ---- parameter groups ------------------------------------------------------------------

// Whether Muon optimises this parameter (the rule above). `buffer`: never.
bool is_muon_param(const std::string& name, const Tensor& t, bool buffer = false);

struct ParamGroups {
  optim::NamedParams muon, adamw;  // in the model's registration order
};
ParamGroups partition_parameters(const nn::Model& model);

// ---- batches -----------------------------------------------------------------------------

// The training micro-batches, in order, with a position a checkpoint can save.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual data::Batch next() = 0;
  virtual void skip() { next(); }  // the next batch, unused
  virtual nlohmann::json position() const = 0;
  virtual void restore(const nlohmann::json& position) = 0;
};

// Text data: a data::TokenBuffer (position = data::BufferPosition as JSON).
class TokenBufferSource : public BatchSource {
 public:
  explicit TokenBufferSource(data::TokenBuffer buffer) : buffer_(std::move(buffer)) {}
  data::Batch next() override { return buffer_.next(); }
  nlohmann::json position() const override { return buffer_.position().to_json(); }
  void restore(const nlohmann::json& p) override {
    buffer_.restore(data::BufferPosition::from_json(p));
  }

 private:
  data::TokenBuffer buffer_;
};

// Token shards (data/token_shards.h; position = data::ShardStream's).
class ShardSource : public BatchSource {
 public:
  explicit ShardSource(data::ShardStream stream) : stream_(std::move(stream)) {}
  data::Batch next() override { return stream_.next(); }
  void skip() override { stream_.skip(1); }
  nlohmann::json position() const override { return stream_.position(); }
  void restore(const nlohmann::json& p) override { stream_.restore(p); }

 private:
  data::ShardStream stream_;
};

// Data-parallel ranks (SPEC §15): rank r of P takes micro-batch r of every P consecutive
// micro-batches of `inner`, skipping the others; every rank's inner position is the same.
class RankStridedSource : public BatchSource {
 public:
  RankStridedSource(BatchSource& inner, int rank, int ranks)
      : inner_(inner), rank_(rank), ranks_(ranks) {}
  data::Batch next() override;
  nlohmann::json position() const override { return inner_.position(); }
  void restore(const nlohmann::json& p) override { inner_.restore(p); }

 private:
  BatchSource& inner_;
  int rank_, ranks_;
};

// A fixed list of batches, served once each in order (tests; position = {"index": i}).
class BatchListSource : public BatchSource {
 public:
  explicit BatchListSource(std::vector<data::Batch> batches) : batches_(std::move(batches)) {}
  data::Batch next() override;
  nlohmann::json position() const override { return {{"index", index_}}; }
  void restore(const nlohmann::json& p) override;

 private:
  std::vector<data::Batch> batches_;
  size_t index_ = 0;
};

// ---- the loop ----------------------------------------------------------------------------

// CPU seconds (the whole process's, so meaningful on a shared machine) of each phase of one
// step; the sum is the step's CPU time up to bookkeeping. Data-parallel: this rank's.
struct StepPhases {
  double forward = 0;   // every micro-batch's forward (model, head, loss)
  double backward = 0;  // every micro-batch's backward (with the buckets' copies and posting)
  double reduce = 0;    // data-parallel: waiting for the gradients, averaging, losses, counts
  double clip = 0;      // global gradient norm and clipping
  double muon = 0, adamw = 0;
  double sync = 0;  // data-parallel sharded optimizer: exchanging the updated tensors
  double bias = 0;  // expert-bias update
  double zero_grad = 0;
  double total() const {
    return forward + backward + reduce + clip + muon + adamw + sync + bias + zero_grad;
  }
  void add(const StepPhases& o) {
    forward += o.forward, backward += o.backward, reduce += o.reduce, clip += o.clip;
    muon += o.muon, adamw += o.adamw, sync += o.sync, bias += o.bias, zero_grad += o.zero_grad;
  }
};

struct StepResult {
  int64_t step = 0;                  // 1-based: the number of steps done after this one
  double loss = 0, ce = 0, bal = 0;  // means over the micro-batches
  double lr = 0, muon_lr = 0;        // the rates this step used
  double grad_norm = 0;              // before clipping
  int64_t tokens = 0;                // B · T · grad_accum
  bool skipped = false;              // non-finite loss or norm: no update
  // SPEC §11: per capacity-limited MoE layer, the step's fraction of dropped assignments.
  std::vector<double> moe_dropped;
  StepPhases phases;
};

// Tokens of the documents, each followed by <|endoftext|> (tokenized in parallel).
int64_t count_tokens(const std::vector<data::Document>& docs, const data::Tokenizer& tok);

// Mean cross-entropy of `model` over `batches` (eval mode, no gradients); NaN if empty.
double mean_eval_loss(const nn::Model& model, const std::vector<data::Batch>& batches);

class Trainer {
 public:
  // The model and the source must outlive the trainer. The Rng starts at (seed + 4, 0).
  // comm (optional; must outlive the trainer): data-parallel ranks (SPEC §15) — gradients
  // are all-reduced in per-block buckets during the last micro-batch's backward (after it
  // when !overlap), losses averaged, routing counts summed; the optimizer's expensive part
  // is sharded across the ranks (distributed_optim.h: Muon's Newton–Schulz, and with
  // cfg.zero every tensor's update and state), the updated tensors exchanged.
  // shard = false (without ZeRO): every rank runs the whole optimizer step (measurements).
  Trainer(nn::Model& model, const TrainConfig& cfg, BatchSource& data, Communicator* comm = nullptr,
          bool overlap = true, bool shard = true);

  StepResult step();

  int64_t steps_done() const { return step_; }
  int64_t nonfinite_in_a_row() const { return nonfinite_in_a_row_; }
  int64_t nonfinite_total() const { return nonfinite_total_; }
  Rng& rng() { return rng_; }
  const ParamGroups& groups() const { return groups_; }
  // Data-parallel: how the optimizer step is shared by the ranks, in words.
  std::string sharding() const;
  // The precision of the step's matrix products (SPEC §13): cfg.precision, native when the
  // CPU has AVX512_BF16 (read once, here), else emulated.
  MatmulPrecision matmul_precision() const { return precision_; }

  // Muon + AdamW state in one map ("muon.*", "adamw.*"), the tensors being the optimizers'.
  // With ZeRO-1 across ranks this is a collective: rank 0 receives the other ranks' tensors
  // and returns the whole state; the other ranks return their own part.
  std::map<std::string, Tensor> optimizer_state();
  // Seconds spent waiting for gradient all-reduces after backward, over all steps so far.
  double allreduce_wait_s() const { return allreduce_wait_s_; }
  int64_t buckets_posted_early() const { return reducer_ ? reducer_->buckets_posted_early() : 0; }
  // Restores a checkpoint: optimizer state, step count, counters.
  void restore(const std::map<std::string, Tensor>& optimizer_state, const std::string& source,
               int64_t steps_done, int64_t nonfinite_in_a_row, int64_t nonfinite_total);

  // Test hooks (fault_injection.h); step() reads faults.nan_from: from that step (1-based)
  // on, the loss is replaced by NaN before backward.
  FaultInjection faults;

 private:
  static ParamGroups owned(const ParamGroups& all, const std::vector<int>& owner, int rank);

  nn::Model& model_;
  TrainConfig cfg_;
  BatchSource& data_;
  Communicator local_;
  Communicator& comm_;
  ParamGroups groups_;
  optim::NamedParams all_;
  // Data-parallel: the rank updating each tensor of all_, -1 where every rank does (AdamW
  // without ZeRO); one process: all 0 (train/distributed_optim.h).
  std::vector<int> owner_;
  ParamGroups mine_;                  // the tensors whose optimizer state this rank keeps
  std::vector<uint8_t> muon_update_;  // per tensor of mine_.muon: orthogonalised here
  std::unique_ptr<ParameterExchange> exchange_;  // data-parallel only
  optim::Muon muon_;
  optim::AdamW adamw_;
  Rng rng_;
  MatmulPrecision precision_;
  int64_t step_ = 0, nonfinite_in_a_row_ = 0, nonfinite_total_ = 0;
  std::unique_ptr<GradientReducer> reducer_;  // data-parallel only
  double allreduce_wait_s_ = 0;
};

}  // namespace tinyr2::train
