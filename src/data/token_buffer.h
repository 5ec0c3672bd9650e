// TokenBuffer (SPEC §6 Data): batches of consecutive (T+1)-token windows from a stream of
// documents.
//
// The stream. Epoch e visits every document once, in the order of a Fisher–Yates shuffle
// drawn from Philox blocks e·2^32, e·2^32+1, ... of the seed (so it is a pure function of
// (seed, e)); each document contributes its tokens followed by <|endoftext|>. Epochs follow
// one another without a break. Window k is stream[k·T, k·T + T] (T+1 tokens: ids are the
// first T, targets the last T), so windows advance by T and overlap by one token; a batch is
// B consecutive windows.
//
// Memory. Documents are read and tokenized lazily, in stream order, only when the next
// window needs them: the buffer holds the token ids from the current window's start to the
// end of the last document read (at most about one batch plus one document), one length
// per buffered document, and the current epoch's permutation (one index per document). No
// text is kept.
//
// Position. position() is a small struct (seed, epoch, document cursor in the epoch's
// order, token offset in that document, plus the document count and a fingerprint of the
// documents' keys and sizes); restore() of a saved position makes the following batches
// identical, bit for bit, to those the saved buffer would have produced. It round-trips
// through JSON for trainer_state.json.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "data/tokenizer.h"

namespace tinyr2::data {

struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids;      // (B, T), row-major: window tokens 0..T-1
  std::vector<int32_t> targets;  // (B, T): window tokens 1..T
};

struct BufferPosition {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t doc_cursor = 0;    // index, in epoch's shuffled order, of the document holding the
  int64_t token_offset = 0;  // next window's first token, at this index in its tokens (+EOT)
  int64_t num_documents = 0;
  uint64_t fingerprint = 0;  // of the documents' keys and sizes, in base order

  // {"seed","epoch","doc_cursor","token_offset","num_documents","fingerprint":"<16 hex>"}
  nlohmann::json to_json() const;
  static BufferPosition from_json(const nlohmann::json& j);  // tinyr2::Error if malformed
  bool operator==(const BufferPosition&) const = default;
};

class TokenBuffer {
 public:
  // docs: non-empty (else tinyr2::Error); batch_size, seq_len ≥ 1.
  TokenBuffer(std::vector<Document> docs, Tokenizer tokenizer, int64_t batch_size, int64_t seq_len,
              uint64_t seed);

  Batch next();

  BufferPosition position() const;
  // Continues from a saved position (its seed included). tinyr2::Error if the documents
  // differ from those the position was saved with, or the position is out of range.
  void restore(const BufferPosition& pos);

  int64_t batch_size() const { return B_; }
  int64_t seq_len() const { return T_; }
  int64_t num_documents() const { return static_cast<int64_t>(docs_.size()); }

 private:
  void load_next_document();
  void advance(int64_t n);
  const std::vector<int64_t>& order(int64_t epoch);

  std::vector<Document> docs_;
  Tokenizer tokenizer_;
  int64_t B_, T_;
  uint64_t seed_;
  uint64_t fingerprint_;

  // The buffer: tokens_[start_] is the next window's first token, at `front_` in the stream.
  std::vector<int32_t> tokens_;
  size_t start_ = 0;
  BufferPosition front_;
  std::vector<int64_t> lengths_;  // token counts of the buffered documents, front first
  size_t lengths_start_ = 0;
  int64_t load_epoch_ = 0, load_cursor_ = 0;  // the next document to read

  int64_t order_epoch_ = -1;  // epoch whose permutation is in order_
  std::vector<int64_t> order_;
};

// FNV-1a 64 over "key\0size\0" of each document in order: the fingerprint a BufferPosition
// carries, by which `eval --split` checks it found the documents a run trained on.
uint64_t documents_fingerprint(const std::vector<Document>& docs);

// The fixed evaluation set: the first n batches of a fresh TokenBuffer on docs.
std::vector<Batch> fixed_batches(std::vector<Document> docs, const Tokenizer& tokenizer,
                                 int64_t batch_size, int64_t seq_len, uint64_t seed, int64_t n);

}  // namespace tinyr2::data
