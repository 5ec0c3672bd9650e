#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "optim/grad_clip.h"
#include "optim/schedule.h"
#include "train/checkpoint.h"
#include "train/metrics.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

IndexTensor ids_of(const data::Batch& b) {
  return IndexTensor({b.B, b.T}, b.ids);
}
IndexTensor targets_of(const data::Batch& b) {
  return IndexTensor({b.B, b.T}, b.targets);
}

// 12345678 → "12.3M"; small numbers as they are.
std::string human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{}", static_cast<int64_t>(n));
}

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

// ---- parameter groups ------------------------------------------------------------------

bool is_muon_param(const std::string& name, const Tensor& t, bool buffer) {
  if (buffer || t.dim() < 2 || name.rfind("blocks.", 0) != 0) return false;
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
      rng_(static_cast<uint64_t>(cfg.seed) + 4, 0) {
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
    nn::ForwardContext ctx(tape);
    ctx.training = true;
    ctx.rng = &rng_;
    const nn::ModelOutput out = model_.forward(ctx, ids, &targets);
    Tensor loss = out.loss;
    if (poison_from >= 0 && r.step >= poison_from)
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

// ---- the `tinyr2 train` run ----------------------------------------------------------------

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

namespace {

int64_t total_bytes(const std::vector<data::Document>& docs) {
  int64_t b = 0;
  for (const auto& d : docs) b += d.size;
  return b;
}

// The first model key whose value differs, or "" if none.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (auto it = a.begin(); it != a.end(); ++it)
    if (!b.contains(it.key()) || b.at(it.key()) != it.value())
      return fmt::format("\"{}\" is {} in the config but {} in the checkpoint", it.key(),
                         it.value().dump(),
                         b.contains(it.key()) ? b.at(it.key()).dump() : "absent");
  return "";
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f) fail("{}: write error", tmp);
  }
  fs::rename(tmp, path);
}

}  // namespace

int run_training(const TrainOptions& o) {
  const auto t_start = Clock::now();

  // ---- configuration and run directory ----
  std::string config_path = o.config, out = o.out;
  if (out.empty()) {
    if (config_path.empty())
      fail("train: give --config FILE (and --out DIR to name the run directory)");
    out = (fs::path("runs") / fs::path(config_path).stem()).string();
  }
  if (config_path.empty()) {
    if (!o.resume) fail("train: give --config FILE");
    config_path = (fs::path(out) / "config.json").string();
    if (!fs::exists(config_path))
      fail("{}: no run to resume ({} does not exist)", out, config_path);
  }
  const RunConfig rc = load_run_config(config_path, o.sets);
  const TrainConfig& tc = rc.train;

  std::optional<Checkpoint> ckpt;
  if (o.resume) {
    ckpt = load_latest_checkpoint(out);
    const std::string diff = first_difference(rc.model.to_json(), ckpt->model->cfg.to_json());
    if (!diff.empty())
      fail("--resume {}: the model config differs from the checkpoint's: {}", ckpt->dir, diff);
  } else if (fs::exists(fs::path(out) / "latest") || fs::exists(fs::path(out) / "metrics.jsonl")) {
    fail("{}: already holds a training run; add --resume to continue it, or choose another --out",
         out);
  }

  // ---- data ----
  std::vector<std::string> sources = o.data;
  if (sources.empty() && ckpt) sources = ckpt->state.data_sources;
  if (sources.empty())
    fail("train: no training data; give --data PATH (a directory, a text file or a .jsonl file)");
  const data::Tokenizer tok = data::Tokenizer::load();
  if (rc.model.vocab_size != tok.vocab_size())
    fail(
        "vocab_size = {} does not match the GPT-2 tokenizer's {}: training on text needs "
        "vocab_size {}",
        rc.model.vocab_size, tok.vocab_size(), tok.vocab_size());
  const data::Corpus corpus = data::Corpus::scan(sources, {o.glob, tc.val_fraction});
  if (corpus.train().empty())
    fail("no training documents (all {} went to validation)", corpus.val().size());

  const int64_t B = tc.batch_size, T = rc.model.ctx_len, ga = tc.grad_accum;
  const uint64_t seed = static_cast<uint64_t>(tc.seed);
  say(fmt::format("tinyr2 train: {} threads, run directory {}", threads::num_threads(), out));
  for (const auto& s : sources) say(fmt::format("data: {}", s));
  say(fmt::format("data: {}", corpus.summary()));
  {
    const auto t0 = Clock::now();
    const int64_t train_bytes = total_bytes(corpus.train()), val_bytes = total_bytes(corpus.val());
    const int64_t val_tokens = count_tokens(corpus.val(), tok);
    constexpr int64_t kCountLimit = int64_t{64} << 20;  // count exactly below 64 MiB of text
    std::string train_tokens;
    double train_tok = 0;
    if (train_bytes <= kCountLimit) {
      train_tok = static_cast<double>(count_tokens(corpus.train(), tok));
      train_tokens = human(train_tok);
    } else {
      const double per_byte = val_bytes > 0 ? static_cast<double>(val_tokens) / val_bytes : 0.3;
      train_tok = per_byte * static_cast<double>(train_bytes);
      train_tokens = "~" + human(train_tok) + " (estimated)";
    }
    const double step_tokens = static_cast<double>(B * T * ga);
    say(fmt::format(
        "data: tokens {} train, {} val ({} + {} bytes; counted in {:.1f} s); one epoch ≈ {} steps",
        train_tokens, human(static_cast<double>(val_tokens)),
        human(static_cast<double>(train_bytes)), human(static_cast<double>(val_bytes)),
        seconds_since(t0), static_cast<int64_t>(std::ceil(train_tok / step_tokens))));
  }
  if (corpus.val().empty())
    say("warning: no validation documents (val_fraction 0?): val loss is not computed, best/ is "
        "not written");

  // ---- model, batches, trainer ----
  std::unique_ptr<nn::Model> model;
  if (ckpt) {
    model = std::move(ckpt->model);
  } else {
    model = std::make_unique<nn::Model>(rc.model);
    model->init(seed);
  }
  TokenBufferSource source(data::TokenBuffer(corpus.train(), tok, B, T, seed + 1));
  const std::vector<data::Batch> train_eval =
      data::fixed_batches(corpus.train(), tok, B, T, seed + 2, tc.eval_iters);
  const std::vector<data::Batch> val_eval =
      corpus.val().empty() ? std::vector<data::Batch>{}
                           : data::fixed_batches(corpus.val(), tok, B, T, seed + 3, tc.eval_iters);
  Trainer trainer(*model, tc, source);
  trainer.poison_from = o.nan_from;
  TrainerState state;
  state.data_sources = sources;
  state.rng_seed = trainer.rng().seed();
  if (ckpt) {
    state = ckpt->state;
    state.data_sources = sources;
    source.restore(state.data_position);
    trainer.rng().set_state(state.rng_seed, state.rng_offset);
    trainer.restore(ckpt->optimizer_state, ckpt->dir + "/optimizer.safetensors", state.step,
                    state.nonfinite_in_a_row, state.nonfinite_total);
  }
  {
    const ParamGroups& g = trainer.groups();
    int64_t muon_n = 0, adamw_n = 0;
    for (const auto& [n, p] : g.muon) muon_n += p.numel();
    for (const auto& [n, p] : g.adamw) adamw_n += p.numel();
    say(fmt::format(
        "model: {} parameters ({} active per token); Muon {} in {} tensors, AdamW {} in {} tensors",
        human(static_cast<double>(model->num_params())),
        human(static_cast<double>(model->active_params_per_token())),
        human(static_cast<double>(muon_n)), g.muon.size(), human(static_cast<double>(adamw_n)),
        g.adamw.size()));
  }
  say(
      fmt::format("train: {} steps × {} micro-batch(es) × {} × {} tokens = {} tokens/step; lr {} → "
                  "{} (warmup {}), "
                  "muon_lr {}; eval every {} steps, checkpoint every {}",
                  tc.max_iters, ga, B, T, B * T * ga, tc.lr, tc.min_lr, tc.warmup_iters, tc.muon_lr,
                  tc.eval_interval, tc.checkpoint_interval));

  fs::create_directories(out);
  write_text((fs::path(out) / "config.json").string(), rc.to_json().dump(2) + "\n");
  MetricsLog metrics(out, ckpt ? state.step : -1);
  if (ckpt) say(fmt::format("resumed from {} (step {})", ckpt->dir, state.step));
  if (trainer.steps_done() >= tc.max_iters) {
    say(fmt::format("nothing to do: {} of {} steps already done", trainer.steps_done(),
                    tc.max_iters));
    return 0;
  }
  const std::string title = fmt::format("tinyr2 — {}", fs::path(out).filename().string());
  const std::string last_good = ckpt ? ckpt->dir : "";
  std::string last_checkpoint = last_good;

  // ---- the loop ----
  const auto t_train = Clock::now();
  const double elapsed_before = state.elapsed_s;
  while (trainer.steps_done() < tc.max_iters) {
    const auto t0 = Clock::now();
    const StepResult r = trainer.step();
    const double ms = seconds_since(t0) * 1e3;
    const double tps = static_cast<double>(r.tokens) / (ms / 1e3);
    state.tokens_seen += r.tokens;
    metrics.append(TrainRecord{r.step, r.loss, r.ce, r.bal, r.lr, r.grad_norm, ms, tps});
    say(
        fmt::format("step {}/{} | loss {:.4f} | ce {:.4f} | bal {:.4f} | norm {:.3f} | lr {:.2e} | "
                    "ms {:.0f} | tok/s {:.0f}",
                    r.step, tc.max_iters, r.loss, r.ce, r.bal, r.grad_norm, r.lr, ms, tps));
    if (r.skipped) {
      say(
          fmt::format("warning: step {} skipped: non-finite {} (loss {}, grad norm {}); {} in a "
                      "row, {} in total",
                      r.step, std::isfinite(r.loss) ? "gradient norm" : "loss", r.loss, r.grad_norm,
                      trainer.nonfinite_in_a_row(), trainer.nonfinite_total()));
      if (trainer.nonfinite_in_a_row() >= 3)
        fail(
            "training stopped at step {}: 3 non-finite steps in a row (loss {}, grad norm {}); "
            "last good checkpoint: {}",
            r.step, r.loss, r.grad_norm, last_checkpoint.empty() ? "none" : last_checkpoint);
    }

    const int64_t k = r.step;
    const bool last = k == tc.max_iters;
    if (k % tc.eval_interval == 0 || last) {
      const auto te = Clock::now();
      const double train_loss = mean_eval_loss(*model, train_eval);
      const double val_loss = mean_eval_loss(*model, val_eval);
      metrics.append(EvalRecord{k, train_loss, val_loss});
      metrics.write_svg(title);
      std::string note;
      if (std::isfinite(val_loss) && val_loss < state.best_val_loss) {
        state.best_val_loss = val_loss;
        write_model_dir((fs::path(out) / "best").string(), *model);
        note = " (new best, saved to best/)";
      }
      say(fmt::format("eval step {}: train loss {:.4f} | val loss {:.4f} (ppl {:.1f}){} | {:.1f} s",
                      k, train_loss, val_loss, std::exp(val_loss), note, seconds_since(te)));
    }
    if (k % tc.checkpoint_interval == 0 || last) {
      state.step = k;
      state.rng_seed = trainer.rng().seed();
      state.rng_offset = trainer.rng().offset();
      state.data_position = source.position();
      state.nonfinite_in_a_row = trainer.nonfinite_in_a_row();
      state.nonfinite_total = trainer.nonfinite_total();
      state.elapsed_s = elapsed_before + seconds_since(t_train);
      CheckpointHook hook;
      if (o.kill_in_checkpoint == k)
        hook = [](const char* stage) {
          if (std::string(stage) == "optimizer") std::raise(SIGKILL);
        };
      write_checkpoint(out, *model, trainer.optimizer_state(), state, tc.keep_checkpoints, hook);
      last_checkpoint = (fs::path(out) / "checkpoints" / checkpoint_name(k)).string();
      say(fmt::format("checkpoint: {}", last_checkpoint));
    }
    if (o.stop_after == k) {
      std::fflush(stdout);
      std::raise(SIGKILL);  // test hook: die like a killed process, no clean-up
    }
  }
  const double total = seconds_since(t_start);
  say(fmt::format(
      "done: {} steps, {} tokens in {:.1f} s ({:.0f} tok/s training); best val loss {:.4f}; "
      "final model {}{}",
      tc.max_iters, human(static_cast<double>(state.tokens_seen)), total,
      static_cast<double>(state.tokens_seen) /
          std::max(1e-9, elapsed_before + seconds_since(t_train)),
      state.best_val_loss, last_checkpoint,
      std::isfinite(state.best_val_loss) ? ", best model " + (fs::path(out) / "best").string()
                                         : ""));
  return 0;
}

}  // namespace tinyr2::train
