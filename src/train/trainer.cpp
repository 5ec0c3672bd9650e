#include "train/trainer.h"

#include "core/cpu_features.h"

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "core/error.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "optim/grad_clip.h"
#include "optim/schedule.h"

namespace tinyr2::train {

namespace {

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

IndexTensor ids_of(const data::Batch& b) {
  return IndexTensor({b.B, b.T}, b.ids);
}
IndexTensor targets_of(const data::Batch& b) {
  return IndexTensor({b.B, b.T}, b.targets);
}

}  // namespace

// ---- parameter groups ------------------------------------------------------------------

bool is_muon_param(const std::string& name, const Tensor& t, bool buffer) {
  if (buffer || t.dim() < 2 || name.rfind("blocks.", 0) != 0) return false;
  if (contains(name, ".lf.conv")) return false;  // SPEC §10: LFA's conv tensors go to AdamW
  return !contains(name, ".block_compressor.") && !contains(name, ".intra_block_pos_encoding") &&
         !contains(name, ".hc_attn.") && !contains(name, ".hc_ffn.");
}

ParamGroups partition_parameters(const nn::Model& model) {
  ParamGroups g;
  for (const auto& e : model.params.all()) {
    if (e.buffer) continue;
    (is_muon_param(e.name, e.tensor) ? g.muon : g.adamw).emplace_back(e.name, e.tensor);
  }
  return g;
}

// ---- batches -----------------------------------------------------------------------------

data::Batch BatchListSource::next() {
  TINYR2_CHECK(index_ < batches_.size(), "BatchListSource: all {} batches used", batches_.size());
  return batches_[index_++];
}

void BatchListSource::restore(const nlohmann::json& p) {
  const auto it = p.find("index");
  if (it == p.end() || !it->is_number_unsigned() || it->get<size_t>() > batches_.size())
    fail("batch list position {} is not valid", p.dump());
  index_ = it->get<size_t>();
}

// ---- the loop ----------------------------------------------------------------------------

double mean_eval_loss(const nn::Model& model, const std::vector<data::Batch>& batches) {
  if (batches.empty()) return std::numeric_limits<double>::quiet_NaN();
  Tape tape;
  NoGradGuard no_grad(tape);
  double sum = 0;
  for (const auto& b : batches) {
    nn::ForwardContext ctx(tape);  // eval mode: no gate noise, no dropout, no routing counts
    const IndexTensor ids = ids_of(b), targets = targets_of(b);
    sum += model.forward(ctx, ids, &targets).ce.item();
  }
  return sum / static_cast<double>(batches.size());
}

Trainer::Trainer(nn::Model& model, const TrainConfig& cfg, BatchSource& data)
    : model_(model),
      cfg_(cfg),
      data_(data),
      groups_(partition_parameters(model)),
      muon_(groups_.muon, optim::MuonConfig{cfg.muon_momentum, cfg.muon_weight_decay, 5}),
      adamw_(groups_.adamw,
             optim::AdamWConfig{cfg.betas[0], cfg.betas[1], cfg.eps, cfg.weight_decay}),
      rng_(static_cast<uint64_t>(cfg.seed) + 4, 0),
      precision_{cfg.precision == "bf16",
                 cfg.precision == "bf16" && cpu::cpu_features().avx512_bf16} {
  all_ = groups_.muon;
  all_.insert(all_.end(), groups_.adamw.begin(), groups_.adamw.end());
}

StepResult Trainer::step() {
  StepResult r;
  const int64_t e = step_;  // 0-based index of this step for the schedule
  r.step = e + 1;
  const std::vector<nn::DSMoE*> moe = model_.moe_layers();
  for (nn::DSMoE* m : moe) m->reset_counts();

  // 1. grad_accum micro-batches; gradients of the mean loss accumulate in the parameters.
  const float seed = 1.0f / static_cast<float>(cfg_.grad_accum);
  for (int64_t a = 0; a < cfg_.grad_accum; ++a) {
    const data::Batch b = data_.next();
    const IndexTensor ids = ids_of(b), targets = targets_of(b);
    Tape tape;
    tape.set_matmul_precision(precision_);
    nn::ForwardContext ctx(tape);
    ctx.training = true;
    ctx.rng = &rng_;
    const nn::ModelOutput out = model_.forward(ctx, ids, &targets);
    Tensor loss = out.loss;
    if (faults.poisons(r.step))
      loss = ops::scale(tape, loss, std::numeric_limits<float>::quiet_NaN());
    r.loss += loss.item();
    r.ce += out.ce.item();
    r.bal += out.bal.item();
    tape.backward(loss, Tensor::full(loss.shape(), seed));
    r.tokens += b.B * b.T;
  }
  const double n = static_cast<double>(cfg_.grad_accum);
  r.loss /= n, r.ce /= n, r.bal /= n;

  // 2. Global-norm clip (a non-finite norm leaves the gradients untouched).
  r.grad_norm = optim::clip_grad_norm(all_, cfg_.max_grad_norm);
  r.lr = optim::lr_at(e, cfg_.lr, cfg_.min_lr, cfg_.warmup_iters, cfg_.max_iters);
  r.muon_lr = cfg_.muon_lr *
              optim::lr_multiplier(e, cfg_.lr, cfg_.min_lr, cfg_.warmup_iters, cfg_.max_iters);

  if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
    // 3. Skip: drop the gradients and the routing counts.
    r.skipped = true;
    ++nonfinite_in_a_row_;
    ++nonfinite_total_;
  } else {
    // 4. Optimizer steps; 5. expert-bias update from the whole step's routing counts.
    nonfinite_in_a_row_ = 0;
    muon_.step(r.muon_lr);
    adamw_.step(r.lr);
    for (nn::DSMoE* m : moe) m->update_bias(m->routed_counts());
  }
  for (nn::DSMoE* m : moe) m->reset_counts();
  for (auto& [name, p] : all_) p.zero_grad();  // 6.
  step_ = r.step;
  return r;
}

std::map<std::string, Tensor> Trainer::optimizer_state() const {
  std::map<std::string, Tensor> state = muon_.state_dict();
  for (auto& [k, v] : adamw_.state_dict()) state[k] = v;
  return state;
}

void Trainer::restore(const std::map<std::string, Tensor>& optimizer_state,
                      const std::string& source, int64_t steps_done, int64_t nonfinite_in_a_row,
                      int64_t nonfinite_total) {
  for (const auto& [k, v] : optimizer_state)
    if (k.rfind("muon.", 0) != 0 && k.rfind("adamw.", 0) != 0)
      fail("{}: unexpected optimizer state \"{}\"", source, k);
  muon_.load_state_dict(optimizer_state, source);
  adamw_.load_state_dict(optimizer_state, source);
  step_ = steps_done;
  nonfinite_in_a_row_ = nonfinite_in_a_row;
  nonfinite_total_ = nonfinite_total;
}

// ---- token counts (`tinyr2 train`, `tinyr2 eval`) -----------------------------------------

int64_t count_tokens(const std::vector<data::Document>& docs, const data::Tokenizer& tok) {
  const int64_t n = static_cast<int64_t>(docs.size());
  int64_t total = 0;
  std::string error;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) {
    try {
      std::vector<int32_t> ids;
      tok.encode_append(data::read_document(docs[static_cast<size_t>(i)]), ids);
      total += static_cast<int64_t>(ids.size()) + 1;
    } catch (const std::exception& e) {
#pragma omp critical(tinyr2_count_tokens)
      if (error.empty()) error = e.what();
    }
  }
  if (!error.empty()) throw Error(error);
  return total;
}

}  // namespace tinyr2::train
