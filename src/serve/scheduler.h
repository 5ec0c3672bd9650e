// The continuous-batching scheduler (SPEC §14): N slots, a bounded FIFO queue and one thread
// that runs the decode loop.
//
// Each turn of the loop: queued jobs move into free slots (FIFO) and are prefilled, one forward
// over the prompt each; then ONE batched forward (infer::BatchDecoder::step) feeds the last
// token of every active slot; each slot samples its next token with its own Sampler (seeded
// per request, so a result does not depend on what else runs: greedy equals `tinyr2
// generate`), appends its bytes to its TextStream (stop strings) and emits the safe text. A
// slot is freed at the end (<|endoftext|>, a stop string, max_tokens, a full context) or when
// its job was cancelled (client gone) — checked before every step, so within one step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/tokenizer.h"
#include "infer/batch_decoder.h"
#include "infer/sampling.h"
#include "nn/model.h"
#include "serve/job.h"
#include "serve/text_stream.h"

namespace tinyr2::serve {

struct SchedulerOptions {
  int64_t parallel = 4;  // slots decoded together (--parallel)
  int64_t queue = 64;    // jobs waiting beyond the slots (--queue); more are refused
  int64_t ctx = 0;       // positions per slot (--ctx); 0 or > ctx_len: the model's ctx_len
};

struct Metrics {  // SPEC §14 /metrics, plus the step counters
  int64_t requests_total = 0, prompt_tokens_total = 0, generated_tokens_total = 0;
  int64_t requests_processing = 0, requests_queued = 0;
  int64_t decode_steps = 0, decode_rows = 0;  // batched forwards, and rows over all of them
  int64_t requests_cancelled = 0;             // jobs whose client went away before the end
};

class Scheduler {
 public:
  Scheduler(const nn::Model& model, const data::Tokenizer& tokenizer, SchedulerOptions options);
  ~Scheduler();  // stops the loop; unfinished jobs fail
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job (its prompt must fit ctx()); false when the queue is full.
  bool submit(const std::shared_ptr<Job>& job);
  Metrics metrics() const;
  int64_t ctx() const { return ctx_; }
  int64_t sample_vocab() const { return sample_vocab_; }

 private:
  struct Slot {
    std::shared_ptr<Job> job;
    std::optional<infer::Sampler> sampler;
    TextStream text;
    int32_t next = 0;  // the token to feed at the next step
    int64_t generated = 0;
  };

  void run();
  void start(int64_t s, std::shared_ptr<Job> job);  // prefill and the first token
  // Samples from `logits` for slot s; emits; finishes the slot or sets its next token.
  void advance(int64_t s, const float* logits);
  void release(int64_t s, const std::string& reason);
  TokenInfo token_info(int32_t id, const float* logits, int top) const;

  const nn::Model& model_;
  const data::Tokenizer& tokenizer_;
  SchedulerOptions options_;
  int64_t ctx_, sample_vocab_;
  infer::BatchDecoder decoder_;
  std::vector<Slot> slots_;  // touched by the loop's thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
  int64_t active_ = 0;  // slots with a job (under mu_)
  Metrics metrics_;     // under mu_
  std::thread thread_;
};

}  // namespace tinyr2::serve
