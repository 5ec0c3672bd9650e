// TokenBuffer: windows over a lazily tokenized, per-epoch shuffled document stream; see
// token_buffer.h.
#include "data/token_buffer.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"
#include "io/json_reader.h"

namespace tinyr2::data {

uint64_t documents_fingerprint(const std::vector<Document>& docs) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 over "key\0size\0" per document
  auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
    h *= 0x100000001b3ull;  // the separator byte 0
  };
  for (const Document& d : docs) {
    mix(d.key);
    mix(std::to_string(d.size));
  }
  return h;
}

// ---- position <-> JSON ---------------------------------------------------------------------

nlohmann::json BufferPosition::to_json() const {
  return {{"seed", seed},
          {"epoch", epoch},
          {"doc_cursor", doc_cursor},
          {"token_offset", token_offset},
          {"num_documents", num_documents},
          {"fingerprint", fmt::format("{:016x}", fingerprint)}};
}

BufferPosition BufferPosition::from_json(const nlohmann::json& j) {
  BufferPosition p;
  try {
    // Integers only: get<int64_t>() of a float would cast (undefined out of range).
    for (const char* key : {"seed", "epoch", "doc_cursor", "token_offset", "num_documents"})
      if (!j.at(key).is_number_integer()) throw std::invalid_argument(std::string(key));
    p.seed = j.at("seed").get<uint64_t>();
    p.epoch = j.at("epoch").get<int64_t>();
    p.doc_cursor = j.at("doc_cursor").get<int64_t>();
    p.token_offset = j.at("token_offset").get<int64_t>();
    p.num_documents = j.at("num_documents").get<int64_t>();
    const std::string fp = j.at("fingerprint").get<std::string>();
    size_t used = 0;
    p.fingerprint = std::stoull(fp, &used, 16);
    if (used != fp.size() || fp.size() != 16) throw std::invalid_argument(fp);
  } catch (const std::exception& e) {
    fail("malformed data position {}: {}", io::json_excerpt(j, 80), io::text_excerpt(e.what(), 80));
  }
  return p;
}

// ---- the buffer ------------------------------------------------------------------------------

TokenBuffer::TokenBuffer(std::vector<Document> docs, Tokenizer tokenizer, int64_t batch_size,
                         int64_t seq_len, uint64_t seed)
    : docs_(std::move(docs)),
      tokenizer_(std::move(tokenizer)),
      B_(batch_size),
      T_(seq_len),
      seed_(seed),
      fingerprint_(documents_fingerprint(docs_)) {
  if (docs_.empty()) fail("no documents to stream (is the train or val split empty?)");
  if (B_ < 1 || T_ < 1) fail("batch size and sequence length must be ≥ 1, got {} and {}", B_, T_);
  BufferPosition start;
  start.seed = seed_;
  start.num_documents = num_documents();
  start.fingerprint = fingerprint_;
  restore(start);
}

// Epoch e's document order: Fisher–Yates on Philox blocks e·2^32 + i of the seed.
const std::vector<int64_t>& TokenBuffer::order(int64_t epoch) {
  if (order_epoch_ != epoch) {
    order_.resize(docs_.size());
    std::iota(order_.begin(), order_.end(), int64_t{0});
    Rng rng(seed_, static_cast<uint64_t>(epoch) << 32);
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.next_below(i)]);
    order_epoch_ = epoch;
  }
  return order_;
}

void TokenBuffer::load_next_document() {
  const Document& doc = docs_[order(load_epoch_)[load_cursor_]];
  const size_t before = tokens_.size();
  tokenizer_.encode_append(read_document(doc), tokens_);
  tokens_.push_back(tokenizer_.eot());
  lengths_.push_back(static_cast<int64_t>(tokens_.size() - before));
  if (++load_cursor_ == num_documents()) {
    load_cursor_ = 0;
    ++load_epoch_;
  }
}

// Drops n tokens from the front, moving front_ along the stream.
void TokenBuffer::advance(int64_t n) {
  start_ += static_cast<size_t>(n);
  front_.token_offset += n;
  while (front_.token_offset >= lengths_[lengths_start_]) {
    front_.token_offset -= lengths_[lengths_start_++];
    if (++front_.doc_cursor == num_documents()) {
      front_.doc_cursor = 0;
      ++front_.epoch;
    }
  }
  // Compact once the consumed prefix dominates (amortized O(1) per token).
  if (start_ > tokens_.size() / 2) {
    tokens_.erase(tokens_.begin(), tokens_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
    lengths_.erase(lengths_.begin(),
                   lengths_.begin() + static_cast<std::ptrdiff_t>(lengths_start_));
    lengths_start_ = 0;
  }
}

Batch TokenBuffer::next() {
  Batch batch;
  batch.B = B_;
  batch.T = T_;
  batch.ids.resize(static_cast<size_t>(B_ * T_));
  batch.targets.resize(static_cast<size_t>(B_ * T_));
  for (int64_t b = 0; b < B_; ++b) {
    while (static_cast<int64_t>(tokens_.size() - start_) < T_ + 1) load_next_document();
    const int32_t* window = tokens_.data() + start_;
    std::copy(window, window + T_, batch.ids.begin() + b * T_);
    std::copy(window + 1, window + T_ + 1, batch.targets.begin() + b * T_);
    advance(T_);
  }
  return batch;
}

BufferPosition TokenBuffer::position() const {
  return front_;
}

void TokenBuffer::restore(const BufferPosition& pos) {
  if (pos.num_documents != num_documents() || pos.fingerprint != fingerprint_)
    fail(
        "the data differ from those the position was saved with ({} documents, fingerprint "
        "{:016x}; now {} documents, fingerprint {:016x})",
        pos.num_documents, pos.fingerprint, num_documents(), fingerprint_);
  if (pos.epoch < 0 || pos.doc_cursor < 0 || pos.doc_cursor >= num_documents() ||
      pos.token_offset < 0)
    fail("data position out of range: epoch {}, document {}, token {}", pos.epoch, pos.doc_cursor,
         pos.token_offset);
  seed_ = pos.seed;
  order_epoch_ = -1;
  tokens_.clear();
  lengths_.clear();
  start_ = lengths_start_ = 0;
  load_epoch_ = pos.epoch;
  load_cursor_ = pos.doc_cursor;
  load_next_document();
  if (pos.token_offset >= lengths_[0])
    fail("data position out of range: document {} of epoch {} has {} tokens, not {}",
         pos.doc_cursor, pos.epoch, lengths_[0], pos.token_offset + 1);
  front_ = pos;
  start_ = static_cast<size_t>(pos.token_offset);
}

std::vector<Batch> fixed_batches(std::vector<Document> docs, const Tokenizer& tokenizer,
                                 int64_t batch_size, int64_t seq_len, uint64_t seed, int64_t n) {
  TokenBuffer buffer(std::move(docs), tokenizer, batch_size, seq_len, seed);
  std::vector<Batch> batches;
  batches.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) batches.push_back(buffer.next());
  return batches;
}

}  // namespace tinyr2::data
