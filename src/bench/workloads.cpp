#include "bench/workloads.h"

#include "train/lora_run.h"

#include <algorithm>

#include "bench/timing.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "nn/full_attention.h"
#include "nn/moe.h"
#include "nn/sparse_attention.h"

namespace tinyr2::bench {

Tensor random_normal(const Shape& shape, uint64_t seed, float std) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).normal(t.data(), t.numel(), 0.f, std);
  return t;
}

namespace {

void zero_grads(const nn::Parameters& params) {
  for (const auto& e : params.all()) e.tensor.zero_grad();
}

}  // namespace

// ---- one attention layer ------------------------------------------------------------------

AttentionLayerWorkload::AttentionLayerWorkload(AttentionKind kind, int64_t T)
    : T_(T), cfg_(nn::ModelConfig::from_json(nlohmann::json{{"ctx_len", T}})) {
  if (kind == AttentionKind::Full)
    full_ = std::make_unique<nn::FullAttention>(params_, "attn.", cfg_);
  else
    nsa_ = std::make_unique<nn::SparseAttention>(params_, "attn.", cfg_,
                                                 nn::BranchSet{true, true, true});
  params_.init_all(1);
  x_ = random_normal({1, T, cfg_.n_embd}, 2);
  dy_ = random_normal({1, T, cfg_.n_embd}, 3);
  x_.set_requires_grad(true);
}

AttentionLayerWorkload::~AttentionLayerWorkload() = default;

void AttentionLayerWorkload::run() {
  Tape tape;
  nn::ForwardContext ctx(tape);
  Tensor y = full_ ? full_->forward(ctx, x_) : nsa_->forward(ctx, x_);
  tape.backward(y, dy_);
  zero_grads(params_);
  x_.zero_grad();
}

// ---- one DSMoE layer ----------------------------------------------------------------------

MoELayerWorkload::MoELayerWorkload(int64_t n_experts, int64_t num_exp, int64_t tokens,
                                   int64_t n_embd)
    : tokens_(tokens),
      cfg_(nn::ModelConfig::from_json(nlohmann::json{
          {"n_embd", n_embd}, {"n_head", 1}, {"n_experts", n_experts}, {"num_exp", num_exp}})),
      rng_(7) {
  const int64_t T = std::min<int64_t>(tokens, 256);
  if (tokens < 1 || tokens % T) fail("MoE benchmark: {} tokens is not a multiple of {}", tokens, T);
  moe_ = std::make_unique<nn::DSMoE>(params_, "ffn.", cfg_);
  params_.init_all(1);
  x_ = random_normal({tokens / T, T, n_embd}, 2);
  dy_ = random_normal({tokens / T, T, n_embd}, 3);
  x_.set_requires_grad(true);
}

MoELayerWorkload::~MoELayerWorkload() = default;

void MoELayerWorkload::run() {
  Tape tape;
  nn::ForwardContext ctx(tape);
  ctx.training = true;  // gate noise as in training
  ctx.rng = &rng_;
  Tensor y = moe_->forward(ctx, x_);
  tape.backward(y, dy_);
  zero_grads(params_);
  x_.zero_grad();
  moe_->reset_counts();
}

// ---- one training step ----------------------------------------------------------------------

data::Batch RandomBatchSource::next() {
  data::Batch b;
  b.B = B_;
  b.T = T_;
  const auto n = static_cast<size_t>(B_ * T_);
  b.ids.resize(n);
  b.targets.resize(n);
  const auto V = static_cast<uint64_t>(vocab_);
  for (int64_t r = 0; r < B_; ++r) {
    // One window of T+1 tokens per row: inputs are tokens 0..T-1, targets 1..T.
    int32_t prev = static_cast<int32_t>(rng_.next_below(V));
    for (int64_t t = 0; t < T_; ++t) {
      const auto next = static_cast<int32_t>(rng_.next_below(V));
      b.ids[static_cast<size_t>(r * T_ + t)] = prev;
      b.targets[static_cast<size_t>(r * T_ + t)] = next;
      prev = next;
    }
  }
  ++served_;
  return b;
}

void RandomBatchSource::restore(const nlohmann::json& p) {
  const auto it = p.find("batches");
  if (it == p.end() || !it->is_number_integer()) fail("random batches: bad position {}", p.dump());
  served_ = it->get<int64_t>();
}

TrainStepWorkload::TrainStepWorkload(const train::RunConfig& rc) : rc_(rc) {
  model_ = std::make_unique<nn::Model>(rc_.model);
  model_->init(static_cast<uint64_t>(rc_.train.seed));
  if (rc_.train.lora_rank > 0) {  // SPEC §12: adapters on the frozen model (train/lora_run.h)
    nn::freeze(model_->params);
    auto adapters = std::make_shared<nn::LoraAdapters>(model_->params, train::lora_spec(rc_.train));
    adapters->init(static_cast<uint64_t>(rc_.train.seed) + 5);
    model_->lora = adapters;
  }
  source_ = std::make_unique<RandomBatchSource>(rc_.train.batch_size, rc_.model.ctx_len,
                                                rc_.model.vocab_size,
                                                static_cast<uint64_t>(rc_.train.seed) + 1);
  trainer_ = std::make_unique<train::Trainer>(*model_, rc_.train, *source_);
}

train::StepResult TrainStepWorkload::run() {
  return trainer_->step();
}

int64_t TrainStepWorkload::tokens_per_step() const {
  return rc_.train.batch_size * rc_.model.ctx_len * rc_.train.grad_accum;
}

train::RunConfig dense512_config(int64_t B, int64_t T) {
  return train::RunConfig::from_json(
      nlohmann::json{{"vocab_size", 50257},
                     {"ctx_len", T},
                     {"n_embd", 512},
                     {"n_head", 8},
                     {"n_layer", 4},
                     {"attention_types", nlohmann::json::array({"FULL"})},
                     {"types", nlohmann::json::array({"mlp"})},
                     {"hc", false},
                     {"train", {{"batch_size", B}}}});
}

// ---- model FLOPs ------------------------------------------------------------------------------

ModelFlops training_flops(const nn::Model& model, int64_t T) {
  const nn::ModelConfig& c = model.cfg;
  ModelFlops f;
  // active_params_per_token() counts both embedding tables once; take them out and put the
  // head's V·C back (the token table is the head).
  f.n_active = model.active_params_per_token() - model.token_embedding.numel() -
               (model.position_embedding.defined() ? model.position_embedding.numel() : 0) +
               c.vocab_size * c.n_embd;
  // Each sequence mixer counts its own products between positions (FULL: 6·T·C).
  for (const auto& block : model.blocks) f.attention_per_token += block->attn->flops_per_token(T);
  f.per_token = 6.0 * static_cast<double>(f.n_active) + f.attention_per_token;
  return f;
}

double muon_flops_per_step(const train::ParamGroups& groups, int64_t ns_steps) {
  double total = 0;
  for (const auto& [name, p] : groups.muon) {
    const auto rows = static_cast<double>(p.size(0));
    const double cols = static_cast<double>(p.numel()) / rows;
    const double m = std::min(rows, cols), n = std::max(rows, cols);
    total += static_cast<double>(ns_steps) * (4.0 * m * m * n + 2.0 * m * m * m);
  }
  return total;
}

// ---- the sgemm ceiling ------------------------------------------------------------------------

double sgemm_gflops(int64_t n, double min_seconds) {
  Tensor a = random_normal({n, n}, 1), b = random_normal({n, n}, 2), c = Tensor::zeros({n, n});
  const Timing t = time_interleaved({[&] {
                                      kernels::backend(Device::CPU)
                                          .gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(),
                                                n, 0.f, c.data(), n);
                                    }},
                                    min_seconds, 3)[0];
  return 2.0 * static_cast<double>(n) * n * n / t.median_s / 1e9;
}

}  // namespace tinyr2::bench
