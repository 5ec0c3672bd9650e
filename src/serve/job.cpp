#include "serve/job.h"

namespace tinyr2::serve {

bool Job::wait(std::vector<Event>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return done_ || !events_.empty(); });
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return done_;
}

void Job::cancel() {
  std::lock_guard lk(mu_);
  cancelled_ = true;
}

bool Job::cancelled() const {
  std::lock_guard lk(mu_);
  return cancelled_;
}

std::string Job::finish_reason() const {
  std::lock_guard lk(mu_);
  return reason_;
}

std::string Job::error() const {
  std::lock_guard lk(mu_);
  return error_;
}

int64_t Job::completion_tokens() const {
  std::lock_guard lk(mu_);
  return completion_tokens_;
}

void Job::emit(Event e) {
  {
    std::lock_guard lk(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void Job::finish(std::string reason, int64_t completion_tokens) {
  {
    std::lock_guard lk(mu_);
    reason_ = std::move(reason);
    completion_tokens_ = completion_tokens;
    done_ = true;
  }
  cv_.notify_all();
}

void Job::fail(std::string message) {
  {
    std::lock_guard lk(mu_);
    error_ = std::move(message);
    done_ = true;
  }
  cv_.notify_all();
}

}  // namespace tinyr2::serve
