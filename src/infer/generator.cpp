#include "infer/generator.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace tinyr2::infer {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The last row of logits (1,T,V) as a (V) view.
Tensor last_row(const Tensor& logits) {
  const int64_t T = logits.size(1), V = logits.size(2);
  return logits.view({T, V}).rows(T - 1, T).view({V});
}

}  // namespace

bool apply_context_rule(std::vector<int32_t>& ids, int64_t ctx_len) {
  if (static_cast<int64_t>(ids.size()) <= ctx_len) return false;
  const int64_t keep = std::max<int64_t>(1, ctx_len / 2);
  ids.erase(ids.begin(), ids.end() - keep);
  return true;
}

Generator::Generator(const nn::Model& model, GenerationOptions options)
    : model_(model), options_(options), sampler_(options.sampling, options.seed), cache_(model) {
  const int64_t V = model_.cfg.vocab_size;
  if (options_.sample_vocab <= 0 || options_.sample_vocab > V) options_.sample_vocab = V;
}

void Generator::note_cache() {
  stats_.cache_bytes = std::max(stats_.cache_bytes, cache_.bytes());
  stats_.cache_allocated_bytes = std::max(stats_.cache_allocated_bytes, cache_.allocated_bytes());
}

Tensor Generator::prefill() {
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  cache_.clear();
  const int64_t T = static_cast<int64_t>(context_.size());
  const Tensor logits =
      model_.forward_cached(ctx, IndexTensor({1, T}, context_), cache_, /*last_only=*/true);
  note_cache();
  return last_row(logits);
}

Tensor Generator::step(int32_t id) {
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  const Tensor logits = model_.forward_cached(ctx, IndexTensor({1, 1}, {id}), cache_);
  note_cache();
  return last_row(logits);
}

Tensor Generator::full_forward() {
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  const int64_t T = static_cast<int64_t>(context_.size());
  return last_row(model_.forward(ctx, IndexTensor({1, T}, context_)).logits);
}

std::vector<int32_t> Generator::generate(const std::vector<int32_t>& prompt,
                                         const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) fail("the prompt is empty");
  const int64_t V = model_.cfg.vocab_size;
  for (int32_t id : prompt)
    if (id < 0 || id >= V) fail("prompt token {} is outside the model's vocabulary of {}", id, V);
  stats_ = GenerationStats{};
  context_ = prompt;
  if (apply_context_rule(context_, model_.cfg.ctx_len)) ++stats_.context_cuts;
  stats_.prompt_tokens = static_cast<int64_t>(context_.size());

  const Clock::time_point t0 = Clock::now();
  Tensor logits = options_.use_cache ? prefill() : full_forward();
  stats_.prefill_seconds = seconds_since(t0);

  const Clock::time_point t1 = Clock::now();
  std::vector<int32_t> out;
  const int64_t limit = options_.max_new_tokens;
  while (limit < 0 || static_cast<int64_t>(out.size()) < limit) {
    const int32_t id = sampler_.next(logits.data(), options_.sample_vocab);
    if (id == options_.eot) break;
    out.push_back(id);
    if (on_token) on_token(id);
    context_.push_back(id);
    if (limit >= 0 && static_cast<int64_t>(out.size()) == limit) break;
    if (apply_context_rule(context_, model_.cfg.ctx_len)) {
      ++stats_.context_cuts;
      logits = options_.use_cache ? prefill() : full_forward();
    } else {
      logits = options_.use_cache ? step(id) : full_forward();
    }
    ++stats_.decode_steps;
  }
  stats_.decode_seconds = seconds_since(t1);
  return out;
}

// ---- Utf8Stream ---------------------------------------------------------------------------

namespace {

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for bytes that cannot lead).
int sequence_length(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 1;
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  // Find the last lead byte among the final 3; hold it back if its sequence is not complete.
  const size_t n = pending_.size();
  size_t ready = n;
  for (size_t k = 1; k <= std::min<size_t>(3, n); ++k) {
    const auto c = static_cast<unsigned char>(pending_[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (sequence_length(c) > static_cast<int>(k)) ready = n - k;
    break;
  }
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string Utf8Stream::finish() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace tinyr2::infer
