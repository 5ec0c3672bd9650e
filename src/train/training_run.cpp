// `tinyr2 train` (training_run.h): setup, resume, one step, eval, checkpoint, finish; each
// phase is one function below, run_training strings them together.
#include "train/training_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include <sys/resource.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"
#include "io/file_io.h"
#include "nn/memory_estimate.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/lora_run.h"
#include "train/metrics.h"
#include "train/run_directory.h"
#include "train/trainer.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
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
  io::write_file_atomically(path, text);  // PATH.tmp removed on failure
}

// ---- setup: configuration, run directory, data ----

std::string run_directory(const TrainOptions& o) {
  if (!o.out.empty()) return o.out;
  if (o.config.empty()) fail("train: give --config FILE (and --out DIR to name the run directory)");
  return (fs::path("runs") / fs::path(o.config).stem()).string();
}

std::string config_file(const TrainOptions& o, const std::string& out) {
  if (!o.config.empty()) return o.config;
  if (!o.resume) fail("train: give --config FILE");
  const std::string path = (fs::path(out) / "config.json").string();
  if (!fs::exists(path)) fail("{}: no run to resume ({} does not exist)", out, path);
  return path;
}

// With --resume the latest checkpoint of `out` (its model config must be rc's); without, none.
std::optional<Checkpoint> open_checkpoint(const TrainOptions& o, const RunConfig& rc,
                                          const std::string& out) {
  if (!o.resume) return std::nullopt;  // OutputDirectory::claim checked `out`
  Checkpoint ckpt = load_latest_checkpoint(out);
  const nn::ModelConfig saved =
      ckpt.model ? ckpt.model->cfg : nn::ModelConfig::from_file(ckpt.dir + "/config.json");
  const std::string diff = first_difference(rc.model.to_json(), saved.to_json());
  if (!diff.empty())
    fail("--resume {}: the model config differs from the checkpoint's: {}", ckpt.dir, diff);
  return ckpt;
}

std::vector<std::string> data_sources(const TrainOptions& o,
                                      const std::optional<Checkpoint>& ckpt) {
  std::vector<std::string> sources = o.data;
  if (sources.empty() && ckpt) sources = ckpt->state.data_sources;
  if (sources.empty())
    fail("train: no training data; give --data PATH (a directory, a text file or a .jsonl file)");
  return sources;
}

void check_vocab(const RunConfig& rc, const data::Tokenizer& tok) {
  if (rc.model.vocab_size != tok.vocab_size())
    fail(
        "vocab_size = {} does not match the GPT-2 tokenizer's {}: training on text needs "
        "vocab_size {}",
        rc.model.vocab_size, tok.vocab_size(), tok.vocab_size());
}

// "data: tokens ..." (exact below 64 MiB of training text, estimated from val above).
void report_token_counts(const data::Corpus& corpus, const data::Tokenizer& tok,
                         int64_t step_tokens) {
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
  say(fmt::format(
      "data: tokens {} train, {} val ({} + {} bytes; counted in {:.1f} s); one epoch ≈ {} steps",
      train_tokens, human(static_cast<double>(val_tokens)), human(static_cast<double>(train_bytes)),
      human(static_cast<double>(val_bytes)), seconds_since(t0),
      static_cast<int64_t>(std::ceil(train_tok / static_cast<double>(step_tokens)))));
}

void report_data(const std::string& out, const std::vector<std::string>& sources,
                 const data::Corpus& corpus, const data::Tokenizer& tok, const RunConfig& rc) {
  say(fmt::format("tinyr2 train: {} threads, run directory {}", threads::num_threads(), out));
  for (const auto& s : sources) say(fmt::format("data: {}", s));
  say(fmt::format("data: {}", corpus.summary()));
  report_token_counts(corpus, tok, rc.train.batch_size * rc.model.ctx_len * rc.train.grad_accum);
  if (corpus.val().empty())
    say("warning: no validation documents (val_fraction 0?): val loss is not computed, best/ is "
        "not written");
}

std::unique_ptr<nn::Model> make_model(const RunConfig& rc, std::optional<Checkpoint>& ckpt) {
  if (!rc.train.init_from.empty())  // SPEC §12 (lora_run.h)
    return make_fine_tuning_model(rc, ckpt ? ckpt->dir : "",
                                  ckpt ? std::move(ckpt->model) : nullptr);
  if (ckpt) return std::move(ckpt->model);
  auto model = std::make_unique<nn::Model>(rc.model);
  model->init(static_cast<uint64_t>(rc.train.seed));
  return model;
}

std::vector<data::Batch> eval_batches(const std::vector<data::Document>& docs,
                                      const data::Tokenizer& tok, const RunConfig& rc,
                                      uint64_t seed) {
  if (docs.empty()) return {};
  return data::fixed_batches(docs, tok, rc.train.batch_size, rc.model.ctx_len, seed,
                             rc.train.eval_iters);
}

// The batches of a run: the training stream and the fixed evaluation lists.
struct RunData {
  std::unique_ptr<BatchSource> source;
  std::vector<data::Batch> train_eval, val_eval;
};

RunData text_data(const std::string& out, const std::vector<std::string>& sources,
                  const TrainOptions& o, const RunConfig& rc) {
  const data::Tokenizer tok = data::Tokenizer::load();
  check_vocab(rc, tok);
  const data::Corpus corpus = data::Corpus::scan(sources, {o.glob, rc.train.val_fraction});
  if (corpus.train().empty())
    fail("no training documents (all {} went to validation)", corpus.val().size());
  if (total_bytes(corpus.train()) == 0)
    fail("no text to train on: the {} training documents under {} are empty", corpus.train().size(),
         sources.front());
  report_data(out, sources, corpus, tok, rc);
  const uint64_t seed = static_cast<uint64_t>(rc.train.seed);
  RunData d;
  d.source = std::make_unique<TokenBufferSource>(
      data::TokenBuffer(corpus.train(), tok, rc.train.batch_size, rc.model.ctx_len, seed + 1));
  d.train_eval = eval_batches(corpus.train(), tok, rc, seed + 2);
  d.val_eval = eval_batches(corpus.val(), tok, rc, seed + 3);
  return d;
}

// SPEC §15: a directory of token shards (tinyr2 prepare), streamed from the files.
RunData shard_data(const std::string& out, const std::string& dir, const RunConfig& rc) {
  const int64_t B = rc.train.batch_size, T = rc.model.ctx_len;
  const std::vector<data::ShardFile> train = data::list_shards(dir, "train"),
                                     val = data::list_shards(dir, "val");
  int64_t train_tokens = 0, val_tokens = 0;
  for (const auto& f : train) train_tokens += f.tokens;
  for (const auto& f : val) val_tokens += f.tokens;
  say(fmt::format("tinyr2 train: {} threads, run directory {}", threads::num_threads(), out));
  say(fmt::format(
      "data: token shards {}: {} train tokens in {} shards, {} val tokens in {} shards; one epoch "
      "≈ {} steps",
      dir, human(static_cast<double>(train_tokens)), train.size(),
      human(static_cast<double>(val_tokens)), val.size(),
      static_cast<int64_t>(std::ceil(static_cast<double>(train_tokens) /
                                     static_cast<double>(B * T * rc.train.grad_accum)))));
  auto first = [&](const std::vector<data::ShardFile>& files) {
    std::vector<data::Batch> out;
    int64_t n = 0;
    for (const auto& f : files) n += f.tokens;
    if (n < T + 1) return out;
    data::ShardStream s(files, B, T);
    for (int64_t i = 0; i < rc.train.eval_iters; ++i) out.push_back(s.next());
    return out;
  };
  RunData d;
  d.source = std::make_unique<ShardSource>(data::ShardStream(train, B, T));
  d.train_eval = first(train);
  d.val_eval = first(val);
  if (d.val_eval.empty())
    say("warning: no validation shards: val loss is not computed, best/ is not written");
  return d;
}

// Mean eval loss with the batches split across the ranks (rank r scores r, r+P, ...).
double split_eval_loss(Communicator& comm, const nn::Model& model,
                       const std::vector<data::Batch>& batches) {
  std::vector<data::Batch> mine;
  for (size_t i = static_cast<size_t>(comm.rank()); i < batches.size();
       i += static_cast<size_t>(comm.size()))
    mine.push_back(batches[i]);
  double v[2] = {0, static_cast<double>(mine.size())};
  if (!mine.empty()) v[0] = mean_eval_loss(model, mine) * v[1];
  comm.allreduce_sum(v, 2);
  return v[1] > 0 ? v[0] / v[1] : std::numeric_limits<double>::quiet_NaN();
}

double peak_rss_mib() {
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

// ---- the run: model, batches, trainer, state ----

class TrainingRun {
 public:
  TrainingRun(const TrainOptions& o, Communicator& comm, const RunConfig& rc, std::string out,
              std::optional<Checkpoint> ckpt, const std::vector<std::string>& sources,
              RunData data);
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  void report_model() const;
  void open_run_directory();
  int64_t steps_done() const { return trainer_.steps_done(); }
  bool done() const { return steps_done() >= tc_.max_iters; }
  void start_clock();
  void step();
  void finish(Clock::time_point t_start) const;

 private:
  void resume(const std::vector<std::string>& sources, const std::string& glob);
  StepResult train_step();
  void check_nonfinite(const StepResult& r) const;
  void evaluate(int64_t k);
  void save_checkpoint(int64_t k);

  bool lead() const { return comm_.rank() == 0; }  // rank 0 prints and writes the run dir

  Communicator& comm_;
  const RunConfig& rc_;
  const TrainConfig& tc_;
  const std::string out_;
  std::optional<Checkpoint> ckpt_;  // resumed from (its model moved into model_)
  std::unique_ptr<nn::Model> model_;
  std::unique_ptr<BatchSource> base_;
  RankStridedSource source_;  // SPEC §15: this rank's micro-batches of base_
  const std::vector<data::Batch> train_eval_, val_eval_;
  Trainer trainer_;
  TrainerState state_;
  std::optional<MetricsLog> metrics_;  // opened with the run directory
  std::string title_, last_checkpoint_;
  Clock::time_point t_train_;
  double elapsed_before_ = 0;  // training time of the run before this process
};

TrainingRun::TrainingRun(const TrainOptions& o, Communicator& comm, const RunConfig& rc,
                         std::string out, std::optional<Checkpoint> ckpt,
                         const std::vector<std::string>& sources, RunData data)
    : comm_(comm),
      rc_(rc),
      tc_(rc.train),
      out_(std::move(out)),
      ckpt_(std::move(ckpt)),
      model_(make_model(rc, ckpt_)),
      base_(std::move(data.source)),
      source_(*base_, comm.rank(), comm.size()),
      train_eval_(std::move(data.train_eval)),
      val_eval_(std::move(data.val_eval)),
      trainer_(*model_, tc_, source_, &comm, o.dp_overlap, o.dp_shard) {
  trainer_.faults = o.faults;
  state_.data_sources = sources;
  state_.data_glob = o.glob;
  state_.rng_seed = trainer_.rng().seed();
  if (ckpt_) resume(sources, o.glob);
  if (o.faults.corrupt_rank == comm.rank()) {  // test hook (fault_injection.h)
    Tensor first = model_->params.all().front().tensor;
    first.data()[0] += 1e-3f;
  }
  check_parameters_agree(comm_, *model_, ckpt_ ? "after loading the checkpoint" : "after init");
}

// Trainer, RNG, data position and counters from the checkpoint: bit-exact continuation.
void TrainingRun::resume(const std::vector<std::string>& sources, const std::string& glob) {
  state_ = ckpt_->state;
  state_.data_sources = sources;
  state_.data_glob = glob;
  source_.restore(state_.data_position);
  trainer_.rng().set_state(state_.rng_seed, state_.rng_offset);
  trainer_.restore(ckpt_->optimizer_state, ckpt_->dir + "/optimizer.safetensors", state_.step,
                   state_.nonfinite_in_a_row, state_.nonfinite_total);
}

void TrainingRun::report_model() const {
  if (comm_.size() > 1)
    say(fmt::format(
        "data-parallel: {} ranks (MPI) × {} micro-batch(es) of {}: global batch {} sequences; "
        "optimizer {}",
        comm_.size(), tc_.grad_accum, tc_.batch_size,
        comm_.size() * tc_.grad_accum * tc_.batch_size, trainer_.sharding()));
  const ParamGroups& g = trainer_.groups();
  int64_t muon_n = 0, adamw_n = 0;
  for (const auto& [n, p] : g.muon) muon_n += p.numel();
  for (const auto& [n, p] : g.adamw) adamw_n += p.numel();
  say(fmt::format(
      "model: {} parameters ({} active per token); Muon {} in {} tensors, AdamW {} in {} tensors",
      human(static_cast<double>(model_->num_params())),
      human(static_cast<double>(model_->active_params_per_token())),
      human(static_cast<double>(muon_n)), g.muon.size(), human(static_cast<double>(adamw_n)),
      g.adamw.size()));
  const MatmulPrecision precision = trainer_.matmul_precision();
  if (precision.bf16)  // SPEC §13: said once, at the start
    say(precision.native ? "precision: bf16 matrix products (AVX512_BF16), fp32 accumulation"
                         : "precision: bf16 matrix products EMULATED in fp32 (this CPU has no "
                           "AVX512_BF16): same results, no speed-up");
  const int64_t B = tc_.batch_size * comm_.size(), T = rc_.model.ctx_len, ga = tc_.grad_accum;
  say(
      fmt::format("train: {} steps × {} micro-batch(es) × {} × {} tokens = {} tokens/step; lr {} → "
                  "{} (warmup {}), "
                  "muon_lr {}; eval every {} steps, checkpoint every {}",
                  tc_.max_iters, ga, B, T, B * T * ga, tc_.lr, tc_.min_lr, tc_.warmup_iters,
                  tc_.muon_lr, tc_.eval_interval, tc_.checkpoint_interval));
}

// OUT/config.json and the metrics log (kept up to the checkpoint's step on resume).
void TrainingRun::open_run_directory() {
  if (!lead()) return;
  fs::create_directories(out_);
  write_text((fs::path(out_) / "config.json").string(), rc_.to_json().dump(2) + "\n");
  metrics_.emplace(out_, ckpt_ ? state_.step : -1);
  if (ckpt_) say(fmt::format("resumed from {} (step {})", ckpt_->dir, state_.step));
}

void TrainingRun::start_clock() {
  title_ = fmt::format("tinyr2 — {}", fs::path(out_).filename().string());
  last_checkpoint_ = ckpt_ ? ckpt_->dir : "";
  t_train_ = Clock::now();
  elapsed_before_ = state_.elapsed_s;
}

// One optimizer step, then its eval and checkpoint when due, then the stop hook.
void TrainingRun::step() {
  const StepResult r = train_step();
  const int64_t k = r.step;
  const bool last = k == tc_.max_iters;
  if (k % tc_.eval_interval == 0 || last) evaluate(k);
  if (k % tc_.checkpoint_interval == 0 || last) save_checkpoint(k);
  if (trainer_.faults.kill_rank < 0 || trainer_.faults.kill_rank == comm_.rank())
    trainer_.faults.stop_if_due(k);
}

StepResult TrainingRun::train_step() {
  const auto t0 = Clock::now();
  const StepResult r = trainer_.step();
  const double ms = seconds_since(t0) * 1e3;
  const double tps = static_cast<double>(r.tokens) / (ms / 1e3);
  state_.tokens_seen += r.tokens;
  if (lead())
    metrics_->append(
        TrainRecord{r.step, r.loss, r.ce, r.bal, r.lr, r.grad_norm, ms, tps, r.moe_dropped});
  std::string dropped;  // SPEC §11: the mean dropped fraction over capacity-limited layers
  if (!r.moe_dropped.empty()) {
    double sum = 0;
    for (double d : r.moe_dropped) sum += d;
    dropped =
        fmt::format(" | dropped {:.1f}%", 100.0 * sum / static_cast<double>(r.moe_dropped.size()));
  }
  say(
      fmt::format("step {}/{} | loss {:.4f} | ce {:.4f} | bal {:.4f} | norm {:.3f} | lr {:.2e} | "
                  "ms {:.0f} | tok/s {:.0f}{}",
                  r.step, tc_.max_iters, r.loss, r.ce, r.bal, r.grad_norm, r.lr, ms, tps, dropped));
  if (r.skipped) check_nonfinite(r);
  return r;
}

// A skipped step: a warning; the third in a row stops the run (SPEC §6).
void TrainingRun::check_nonfinite(const StepResult& r) const {
  say(
      fmt::format("warning: step {} skipped: non-finite {} (loss {}, grad norm {}); {} in a "
                  "row, {} in total",
                  r.step, std::isfinite(r.loss) ? "gradient norm" : "loss", r.loss, r.grad_norm,
                  trainer_.nonfinite_in_a_row(), trainer_.nonfinite_total()));
  if (trainer_.nonfinite_in_a_row() >= 3)
    fail(
        "training stopped at step {}: 3 non-finite steps in a row (loss {}, grad norm {}); "
        "last good checkpoint: {}",
        r.step, r.loss, r.grad_norm, last_checkpoint_.empty() ? "none" : last_checkpoint_);
}

// Train and val loss, loss.svg, and best/ when the val loss is the lowest so far.
void TrainingRun::evaluate(int64_t k) {
  const auto te = Clock::now();
  const double train_loss = split_eval_loss(comm_, *model_, train_eval_);
  const double val_loss = split_eval_loss(comm_, *model_, val_eval_);
  if (!lead()) {  // the other ranks only keep the best loss in step
    if (std::isfinite(val_loss) && val_loss < state_.best_val_loss) state_.best_val_loss = val_loss;
    return;
  }
  metrics_->append(EvalRecord{k, train_loss, val_loss});
  metrics_->write_svg(title_);
  std::string note;
  if (std::isfinite(val_loss) && val_loss < state_.best_val_loss) {
    state_.best_val_loss = val_loss;
    write_model_dir((fs::path(out_) / "best").string(), *model_);
    note = " (new best, saved to best/)";
  }
  say(fmt::format("eval step {}: train loss {:.4f} | val loss {:.4f} (ppl {:.1f}){} | {:.1f} s", k,
                  train_loss, val_loss, std::exp(val_loss), note, seconds_since(te)));
}

void TrainingRun::save_checkpoint(int64_t k) {
  state_.step = k;
  state_.rng_seed = trainer_.rng().seed();
  state_.rng_offset = trainer_.rng().offset();
  state_.data_position = source_.position();
  state_.nonfinite_in_a_row = trainer_.nonfinite_in_a_row();
  state_.nonfinite_total = trainer_.nonfinite_total();
  state_.elapsed_s = elapsed_before_ + seconds_since(t_train_);
  check_parameters_agree(comm_, *model_, fmt::format("at step {}", k));  // SPEC §15
  const std::map<std::string, Tensor> optimizer_state = trainer_.optimizer_state();
  if (lead())
    write_checkpoint(out_, *model_, optimizer_state, state_, tc_.keep_checkpoints,
                     trainer_.faults.checkpoint_hook(k));
  last_checkpoint_ = (fs::path(out_) / "checkpoints" / checkpoint_name(k)).string();
  say(fmt::format("checkpoint: {}", last_checkpoint_));
}

void TrainingRun::finish(Clock::time_point t_start) const {
  const double total = seconds_since(t_start);
  const auto rss = comm_.allgather(static_cast<uint64_t>(peak_rss_mib()));
  std::string per_rank;
  for (const uint64_t m : rss) per_rank += (per_rank.empty() ? "" : ", ") + std::to_string(m);
  say(fmt::format("memory: peak RSS {} MiB{}", per_rank, comm_.size() > 1 ? " (per rank)" : ""));
  if (comm_.size() > 1) {
    const double steps =
        static_cast<double>(std::max<int64_t>(1, tc_.max_iters - (ckpt_ ? ckpt_->state.step : 0)));
    say(fmt::format(
        "data-parallel: all-reduce wait after backward {:.1f} ms/step on rank 0 ({}); {} of {} "
        "buckets posted during backward",
        1e3 * trainer_.allreduce_wait_s() / steps, "buckets overlapped with backward",
        trainer_.buckets_posted_early(),
        static_cast<int64_t>(steps) * (static_cast<int64_t>(model_->blocks.size()) + 1)));
  }
  say(fmt::format(
      "done: {} steps, {} tokens in {:.1f} s ({:.0f} tok/s training); best val loss {:.4f}; "
      "final model {}{}",
      tc_.max_iters, human(static_cast<double>(state_.tokens_seen)), total,
      static_cast<double>(state_.tokens_seen) /
          std::max(1e-9, elapsed_before_ + seconds_since(t_train_)),
      state_.best_val_loss, last_checkpoint_,
      std::isfinite(state_.best_val_loss) ? ", best model " + (fs::path(out_) / "best").string()
                                          : ""));
}

int run_on(const TrainOptions& o, Communicator& comm) {
  const auto t_start = Clock::now();
  const std::string out = run_directory(o);
  const RunConfig rc = load_run_config(config_file(o, out), o.sets);
  nn::check_memory(rc.model, config_file(o, out), {rc.train.batch_size, /*training=*/true});
  using Mode = OutputDirectory::Mode;  // rank 0 writes OUT and locks it for the whole run
  std::optional<OutputDirectory> out_dir;
  if (comm.rank() == 0)
    out_dir.emplace(OutputDirectory::claim(
        out, o.resume ? Mode::Resume : (o.force ? Mode::Overwrite : Mode::New), "train"));
  std::optional<Checkpoint> ckpt = open_checkpoint(o, rc, out);
  comm.barrier();  // every rank has looked at OUT before rank 0 writes into it

  const std::vector<std::string> sources = data_sources(o, ckpt);
  RunData data = sources.size() == 1 && data::is_shard_directory(sources[0])
                     ? shard_data(out, sources[0], rc)
                     : text_data(out, sources, o, rc);

  TrainingRun run(o, comm, rc, out, std::move(ckpt), sources, std::move(data));
  run.report_model();
  if (out_dir)
    out_dir->start_fresh();  // with --force: the old run goes only now, after every check
  run.open_run_directory();
  if (run.done()) {
    say(fmt::format("nothing to do: {} of {} steps already done", run.steps_done(),
                    rc.train.max_iters));
    return 0;
  }
  run.start_clock();
  while (!run.done()) run.step();
  run.finish(t_start);
  return 0;
}

}  // namespace

int run_training(const TrainOptions& o) {
  const std::unique_ptr<Communicator> comm = make_communicator();
  if (comm->size() == 1) return run_on(o, *comm);
  if (comm->rank() != 0 && !std::freopen("/dev/null", "w", stdout))  // rank 0 alone prints
    fail("cannot silence stdout of rank {}", comm->rank());
  try {
    return run_on(o, *comm);
  } catch (const std::exception& e) {
    // One line for the whole job: if rank 0 fails too (an error every rank meets), its
    // abort ends this rank during the wait.
    if (comm->rank() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::fprintf(stderr, "error: [rank %d of %d] %s\n", comm->rank(), comm->size(), e.what());
    comm->abort(1);
  }
  return 1;  // not reached: abort() does not return
}

}  // namespace tinyr2::train
