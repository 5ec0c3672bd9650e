#include "serve/scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threads.h"

namespace tinyr2::serve {

Scheduler::Scheduler(const nn::Model& model, const data::Tokenizer& tokenizer,
                     SchedulerOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      ctx_(options.ctx > 0 ? std::min(options.ctx, model.cfg.ctx_len) : model.cfg.ctx_len),
      sample_vocab_(std::min(model.cfg.vocab_size, tokenizer.vocab_size())),
      decoder_(model, options.parallel),
      slots_(static_cast<size_t>(options.parallel)) {
  TINYR2_CHECK(options.queue >= 0, "--queue must be >= 0, got {}", options.queue);
  // OpenMP's thread count is per thread: the decode thread takes the creator's (-t N).
  const int threads = threads::num_threads();
  thread_ = std::thread([this, threads] {
    threads::set_num_threads(threads);
    run();
  });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& job : queue_) job->fail("the server is shutting down");
  for (Slot& s : slots_)
    if (s.job) s.job->fail("the server is shutting down");
}

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard lk(mu_);
    // Free slots take jobs at once; beyond them, at most options_.queue wait.
    const auto waiting = static_cast<int64_t>(queue_.size());
    if (waiting + active_ >= options_.parallel + options_.queue) return false;
    queue_.push_back(job);
    ++metrics_.requests_total;
    metrics_.prompt_tokens_total += static_cast<int64_t>(job->params.prompt.size());
  }
  cv_.notify_all();
  return true;
}

Metrics Scheduler::metrics() const {
  std::lock_guard lk(mu_);
  Metrics m = metrics_;
  m.requests_processing = active_;
  m.requests_queued = static_cast<int64_t>(queue_.size());
  return m;
}

TokenInfo Scheduler::token_info(int32_t id, const float* logits, int top) const {
  TokenInfo info;
  info.id = id;
  if (top < 0) return info;
  // log-softmax of the raw logits over the sampled vocabulary
  const int64_t V = sample_vocab_;
  const float m = *std::max_element(logits, logits + V);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(logits[v] - m));
  const double lse = static_cast<double>(m) + std::log(sum);
  info.logprob = static_cast<float>(logits[id] - lse);
  std::vector<int32_t> best;  // the `top` largest logits, ties → lower id
  for (int64_t v = 0; v < V && top > 0; ++v) {
    const auto id_v = static_cast<int32_t>(v);
    auto pos =
        std::find_if(best.begin(), best.end(), [&](int32_t b) { return logits[v] > logits[b]; });
    if (pos == best.end() && static_cast<int>(best.size()) >= top) continue;
    best.insert(pos, id_v);
    if (static_cast<int>(best.size()) > top) best.pop_back();
  }
  for (int32_t b : best) info.top.emplace_back(b, static_cast<float>(logits[b] - lse));
  return info;
}

void Scheduler::release(int64_t s, const std::string& reason) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  const bool cancelled = slot.job->cancelled();
  if (!slot.text.stopped()) {
    std::string rest = slot.text.finish();
    if (!rest.empty()) slot.job->emit({std::move(rest), TokenInfo{-1, 0, {}}});
  }
  slot.job->finish(reason, slot.generated);
  slot.job.reset();
  slot.sampler.reset();
  decoder_.release(s);
  std::lock_guard lk(mu_);
  --active_;
  if (cancelled) ++metrics_.requests_cancelled;
}

void Scheduler::advance(int64_t s, const float* logits) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  const int32_t id = slot.sampler->next(logits, sample_vocab_);
  if (id == tokenizer_.eot()) return release(s, "stop");
  ++slot.generated;
  {
    std::lock_guard lk(mu_);
    ++metrics_.generated_tokens_total;
  }
  std::string text = slot.text.push(tokenizer_.token_bytes(id));
  slot.job->emit({std::move(text), token_info(id, logits, slot.job->params.logprobs)});
  if (slot.text.stopped()) return release(s, "stop");
  if (slot.generated >= slot.job->params.max_tokens || decoder_.length(s) + 1 > ctx_)
    return release(s, "length");
  slot.next = id;
}

void Scheduler::start(int64_t s, std::shared_ptr<Job> job) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  slot.job = std::move(job);
  slot.generated = 0;
  slot.text = TextStream(slot.job->params.stop);
  slot.sampler.emplace(slot.job->params.sampling, slot.job->params.seed);
  const std::vector<int32_t>& prompt = slot.job->params.prompt;
  if (slot.job->params.max_tokens == 0 || slot.job->cancelled()) return release(s, "length");
  const Tensor logits = decoder_.prefill(s, prompt);
  advance(s, logits.data());
}

void Scheduler::run() {
  for (;;) {
    std::vector<std::pair<int64_t, std::shared_ptr<Job>>> admitted;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || active_ > 0; });
      if (stop_) return;
      for (size_t s = 0; s < slots_.size() && !queue_.empty(); ++s)
        if (!slots_[s].job) {
          admitted.emplace_back(static_cast<int64_t>(s), std::move(queue_.front()));
          queue_.pop_front();
          ++active_;
        }
    }
    // Cancelled jobs leave first (a client that disconnected frees its slot within a step).
    for (size_t s = 0; s < slots_.size(); ++s)
      if (slots_[s].job && slots_[s].job->cancelled()) release(static_cast<int64_t>(s), "stop");
    std::vector<int64_t> rows;
    std::vector<int32_t> ids;
    for (size_t s = 0; s < slots_.size(); ++s)
      if (slots_[s].job) {
        rows.push_back(static_cast<int64_t>(s));
        ids.push_back(slots_[s].next);
      }
    // New jobs: prefill between steps; their first token comes from the prompt's logits.
    for (auto& [s, job] : admitted) {
      try {
        start(s, std::move(job));
      } catch (const std::exception& e) {
        Slot& slot = slots_[static_cast<size_t>(s)];
        if (slot.job) {
          slot.job->fail(e.what());
          slot.job.reset();
          decoder_.release(s);
          std::lock_guard lk(mu_);
          --active_;
        }
      }
    }
    if (rows.empty()) continue;
    try {
      const Tensor logits = decoder_.step(rows, ids);  // (B,V): one batched forward
      {
        std::lock_guard lk(mu_);
        ++metrics_.decode_steps;
        metrics_.decode_rows += static_cast<int64_t>(rows.size());
      }
      const int64_t V = model_.cfg.vocab_size;
      for (size_t r = 0; r < rows.size(); ++r)
        advance(rows[r], logits.data() + static_cast<int64_t>(r) * V);
    } catch (const std::exception& e) {
      for (int64_t s : rows) {
        Slot& slot = slots_[static_cast<size_t>(s)];
        if (!slot.job) continue;
        slot.job->fail(e.what());
        slot.job.reset();
        decoder_.release(s);
        std::lock_guard lk(mu_);
        --active_;
      }
    }
  }
}

}  // namespace tinyr2::serve
