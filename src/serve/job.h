// One generation request as the scheduler sees it (SPEC §14): what to generate (GenParams),
// and a channel from the scheduler's thread, which produces the tokens, to the HTTP handler
// that waits for them. Each request has its own Job, so no request can see another's text.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "infer/sampling.h"

namespace tinyr2::serve {

struct GenParams {
  std::vector<int32_t> prompt;                  // token ids, 1 ≤ size ≤ the server's context
  int64_t max_tokens = 16;                      // ≥ 0
  infer::SamplingParams sampling{1.0, 0, 1.0};  // OpenAI defaults: temperature 1, top_k off
  uint64_t seed = 0;
  std::vector<std::string> stop;  // ≤ 4 stop strings
  int logprobs = -1;              // −1: none; else the number of top alternatives (0 … 5)
};

// One generated token: its id, and with logprobs its log-probability under the model (the
// raw logits' log-softmax) and the top alternatives (id, log-probability), most likely first.
struct TokenInfo {
  int32_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;
};

// A piece of output: the text that became safe to send, and the token that produced it.
struct Event {
  std::string text;
  TokenInfo token;
};

class Job {
 public:
  explicit Job(GenParams p) : params(std::move(p)) {}
  const GenParams params;

  // ---- the handler's side
  // Waits up to `timeout` for events or the end; moves the pending events into `out`. Returns
  // whether the job is finished (then finish_reason() etc. are final and every event is out).
  bool wait(std::vector<Event>& out, std::chrono::milliseconds timeout);
  // The client went away (or a stop was seen): the scheduler frees the slot at its next step.
  void cancel();
  bool cancelled() const;

  // Valid once finished.
  std::string finish_reason() const;  // "stop" | "length"; empty with an error
  std::string error() const;          // non-empty when generation failed
  int64_t completion_tokens() const;

  // ---- the scheduler's side
  void emit(Event e);
  void finish(std::string reason, int64_t completion_tokens);
  void fail(std::string message);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool done_ = false, cancelled_ = false;
  std::string reason_, error_;
  int64_t completion_tokens_ = 0;
};

}  // namespace tinyr2::serve
