#include "train/trainer.h"

#include "core/cpu_features.h"

#include <time.h>

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "core/error.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "io/json_reader.h"
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

// The process's CPU time, and the CPU seconds since the last lap added to a phase.
class CpuLap {
 public:
  CpuLap() : last_(now()) {}
  void to(double& phase) {
    const double t = now();
    phase += t - last_;
    last_ = t;
  }

 private:
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  double last_;
};

}  // namespace

// ---- parameter groups ------------------------------------------------------------------

bool is_muon_param(const std::string& name, const Tensor& t, bool buffer) {
  if (buffer || t.dim() < 2 || name.rfind("blocks.", 0) != 0) return false;
  if (contains(name, ".lf.conv")) return false;  // SPEC §10: LFA's conv tensors go to AdamW
  return !contains(name, ".block_compressor.") && !contains(name, ".intra_block_pos_encoding") &&
         !contains(name, ".hc_attn.") && !contains(name, ".hc_ffn.") &&
         !optim::is_ssm_dynamics_param(name);
}

ParamGroups partition_parameters(const nn::Model& model) {
  ParamGroups g;
  if (model.lora) {  // SPEC §12: the adapters alone train, with AdamW; the base is frozen
    for (const auto& e : model.lora->params().all()) g.adamw.emplace_back(e.name, e.tensor);
    return g;
  }
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

data::Batch RankStridedSource::next() {
  data::Batch mine;
  for (int r = 0; r < ranks_; ++r) {
    if (r == rank_)
      mine = inner_.next();
    else
      inner_.skip();
  }
  return mine;
}

void BatchListSource::restore(const nlohmann::json& p) {
  const auto it = p.find("index");
  if (it == p.end() || !it->is_number_unsigned() || it->get<size_t>() > batches_.size())
    fail("batch list position {} is not valid", io::json_excerpt(p));
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

ParamGroups Trainer::owned(const ParamGroups& all, const std::vector<int>& owner, int rank) {
  ParamGroups g;
  size_t i = 0;
  for (const auto& p : all.muon)
    if (owner[i++] == rank) g.muon.push_back(p);
  for (const auto& p : all.adamw)
    if (owner[i++] == rank) g.adamw.push_back(p);
  return g;
}

namespace {

constexpr int kNsSteps = 5;  // Muon's Newton–Schulz iterations

// The precision of the step's matrix products (SPEC §13), Muon's Newton–Schulz included.
MatmulPrecision precision_of(const TrainConfig& cfg) {
  const bool bf16 = cfg.precision == "bf16";
  return {bf16, bf16 && cpu::cpu_features().avx512_bf16};
}

// Data-parallel (distributed_optim.h): the rank updating each tensor of muon ++ adamw. ZeRO-1
// balances every tensor; otherwise the Muon tensors (their Newton–Schulz) are balanced and
// AdamW runs on every rank (-1). One process: all its own.
std::vector<int> owners(const ParamGroups& g, const TrainConfig& cfg, const Communicator& comm,
                        bool shard) {
  const size_t n = g.muon.size() + g.adamw.size();
  if (comm.size() == 1) return std::vector<int>(n, comm.rank());
  if (cfg.zero == 0 && !shard) return std::vector<int>(n, -1);  // all on every rank
  std::vector<double> costs;
  for (const auto& [name, p] : g.muon)
    costs.push_back(muon_update_cost(p, kNsSteps, precision_of(cfg)));
  if (cfg.zero != 0)
    for (const auto& [name, p] : g.adamw) costs.push_back(adamw_update_cost(p));
  std::vector<int> owner = balanced_owners(costs, comm.size());
  owner.resize(n, -1);
  return owner;
}

}  // namespace

Trainer::Trainer(nn::Model& model, const TrainConfig& cfg, BatchSource& data, Communicator* comm,
                 bool overlap, bool shard)
    : model_(model),
      cfg_(cfg),
      data_(data),
      comm_(comm ? *comm : local_),
      groups_(partition_parameters(model)),
      owner_(owners(groups_, cfg, comm_, shard)),
      mine_(cfg.zero != 0 ? owned(groups_, owner_, comm_.rank()) : groups_),
      muon_(mine_.muon, optim::MuonConfig{cfg.muon_momentum, cfg.muon_weight_decay, kNsSteps,
                                          precision_of(cfg)}),
      adamw_(mine_.adamw,
             optim::AdamWConfig{cfg.betas[0], cfg.betas[1], cfg.eps, cfg.weight_decay}),
      rng_(static_cast<uint64_t>(cfg.seed) + 4, 0),
      precision_(precision_of(cfg)) {
  all_ = groups_.muon;
  all_.insert(all_.end(), groups_.adamw.begin(), groups_.adamw.end());
  // Without ZeRO every rank holds all Muon tensors' state and orthogonalises its own.
  muon_update_.assign(mine_.muon.size(), 1);
  if (cfg_.zero == 0)
    for (size_t k = 0; k < muon_update_.size(); ++k)
      muon_update_[k] = owner_[k] == comm_.rank() || owner_[k] < 0 ? 1 : 0;
  if (comm_.size() > 1) {
    reducer_ = std::make_unique<GradientReducer>(
        comm_, all_, static_cast<int64_t>(model_.blocks.size()), overlap);
    std::vector<Tensor> updated;  // what the ranks exchange after the optimizer step
    std::vector<int> by;
    for (size_t i = 0; i < all_.size(); ++i)
      if (owner_[i] >= 0) updated.push_back(all_[i].second), by.push_back(owner_[i]);
    exchange_ = std::make_unique<ParameterExchange>(comm_, updated, by);
  }
}

StepResult Trainer::step() {
  StepResult r;
  StepPhases& ph = r.phases;
  CpuLap lap;
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
    std::vector<size_t> marks;  // data-parallel: the last micro-batch posts buckets early
    if (reducer_ && a + 1 == cfg_.grad_accum) {
      ctx.block_marks = &marks;
      tape.set_after_node(
          [this, &marks](size_t remaining) { reducer_->after_node(remaining, marks); });
    }
    lap.to(ph.forward);  // (the batch's reading counts as forward)
    const nn::ModelOutput out = model_.forward(ctx, ids, &targets);
    Tensor loss = out.loss;
    if (faults.poisons(r.step))
      loss = ops::scale(tape, loss, std::numeric_limits<float>::quiet_NaN());
    r.loss += loss.item();
    r.ce += out.ce.item();
    r.bal += out.bal.item();
    lap.to(ph.forward);
    tape.backward(loss, Tensor::full(loss.shape(), seed));
    r.tokens += b.B * b.T;
    lap.to(ph.backward);
  }
  const double n = static_cast<double>(cfg_.grad_accum);
  r.loss /= n, r.ce /= n, r.bal /= n;
  std::vector<int64_t> counts;  // every DSMoE layer's routing counts, summed over the ranks
  std::vector<int64_t> drops;   // SPEC §11: dropped, assigned per capacity-limited layer
  for (nn::DSMoE* m : moe)
    if (m->capacity_limited()) drops.insert(drops.end(), {m->dropped(), m->assignments()});
  if (reducer_ && !drops.empty())
    comm_.allreduce_sum(drops.data(), static_cast<int64_t>(drops.size()));
  for (size_t i = 0; i + 1 < drops.size(); i += 2)
    r.moe_dropped.push_back(
        drops[i + 1] > 0 ? static_cast<double>(drops[i]) / static_cast<double>(drops[i + 1]) : 0.0);
  if (reducer_) {
    // SPEC §15: gradients averaged (buckets posted during backward), losses averaged.
    allreduce_wait_s_ += reducer_->finish();
    double v[3] = {r.loss, r.ce, r.bal};
    comm_.allreduce_sum(v, 3);
    const double P = static_cast<double>(comm_.size());
    r.loss = v[0] / P, r.ce = v[1] / P, r.bal = v[2] / P;
    r.tokens *= comm_.size();
    for (nn::DSMoE* m : moe)
      counts.insert(counts.end(), m->routed_counts().begin(), m->routed_counts().end());
    comm_.allreduce_sum(counts.data(), static_cast<int64_t>(counts.size()));
  }
  lap.to(ph.reduce);

  // 2. Global-norm clip (a non-finite norm leaves the gradients untouched).
  r.grad_norm = optim::clip_grad_norm(all_, cfg_.max_grad_norm);
  lap.to(ph.clip);
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
    muon_.step(r.muon_lr, muon_update_);
    lap.to(ph.muon);
    adamw_.step(r.lr);
    lap.to(ph.adamw);
    if (exchange_) exchange_->run();  // each sharded tensor from the rank that updated it
    lap.to(ph.sync);
    size_t at = 0;
    for (nn::DSMoE* m : model_.lora ? std::vector<nn::DSMoE*>{} : moe) {  // LoRA: base frozen
      if (!reducer_) {
        m->update_bias(m->routed_counts());
        continue;
      }
      const size_t k = m->routed_counts().size();
      m->update_bias(std::vector<int64_t>(counts.begin() + static_cast<std::ptrdiff_t>(at),
                                          counts.begin() + static_cast<std::ptrdiff_t>(at + k)));
      at += k;
    }
  }
  for (nn::DSMoE* m : moe) m->reset_counts();
  lap.to(ph.bias);
  for (auto& [name, p] : all_) p.zero_grad();  // 6.
  lap.to(ph.zero_grad);
  step_ = r.step;
  return r;
}

std::string Trainer::sharding() const {
  if (comm_.size() == 1) return "in one process";
  if (cfg_.zero != 0) return "state and updates sharded by tensors (ZeRO-1)";
  for (const int o : owner_)
    if (o >= 0) return "state replicated, Newton–Schulz sharded by tensors";
  return "state and updates replicated";
}

std::map<std::string, Tensor> Trainer::optimizer_state() {
  std::map<std::string, Tensor> state = muon_.state_dict();
  for (auto& [k, v] : adamw_.state_dict()) state[k] = v;
  if (cfg_.zero == 0 || comm_.size() == 1) return state;
  // ZeRO-1: rank 0 receives every other rank's tensors, key by key in map order; the keys
  // and shapes of one tensor's state come from a one-tensor optimizer (no full copy).
  for (size_t i = 0; i < all_.size(); ++i) {
    const int owner = owner_[i];
    if (owner == 0 || (comm_.rank() != 0 && comm_.rank() != owner)) continue;
    const optim::NamedParams one = {all_[i]};
    const std::map<std::string, Tensor> shapes =
        i < groups_.muon.size() ? optim::Muon(one).state_dict() : optim::AdamW(one).state_dict();
    for (const auto& [key, like] : shapes) {
      if (comm_.rank() == owner) {
        comm_.send(state.at(key).data(), like.numel(), 0);
      } else {
        Tensor t = Tensor::empty(like.shape());
        comm_.recv(t.data(), t.numel(), owner);
        state[key] = t;
      }
    }
  }
  return state;
}

void Trainer::restore(const std::map<std::string, Tensor>& optimizer_state,
                      const std::string& source, int64_t steps_done, int64_t nonfinite_in_a_row,
                      int64_t nonfinite_total) {
  for (const auto& [k, v] : optimizer_state)
    if (k.rfind("muon.", 0) != 0 && k.rfind("adamw.", 0) != 0)
      fail("{}: unexpected optimizer state \"{}\"", source, k);
  if (cfg_.zero == 0 || comm_.size() == 1) {
    muon_.load_state_dict(optimizer_state, source);
    adamw_.load_state_dict(optimizer_state, source);
  } else {  // ZeRO-1: each rank takes its own tensors' part of the whole state
    std::map<std::string, Tensor> mine = muon_.state_dict();
    for (auto& [k, v] : adamw_.state_dict()) mine[k] = v;
    for (auto& [k, v] : mine) {
      const auto it = optimizer_state.find(k);
      if (it == optimizer_state.end()) fail("{}: missing optimizer state \"{}\"", source, k);
      v = it->second;
    }
    muon_.load_state_dict(mine, source);
    adamw_.load_state_dict(mine, source);
  }
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
