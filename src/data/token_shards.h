// Token shards (SPEC §15): a corpus tokenized once into llm.c-format files, streamed by
// `tinyr2 train --data DIR` with memory that does not grow with the corpus.
//
// File format (llm.c, dev/data/data_common.py): a header of 256 little-endian int32 —
// [0] magic 20240520, [1] version 1, [2] token count N, the rest 0 — then N uint16 tokens.
// A shard holds at most 100 M tokens. A directory holds train_NNNNNN.bin and
// val_NNNNNN.bin (6 digits, from 000000), each split numbered on its own.
//
// `tinyr2 prepare` (prepare_shards) writes them: the corpus split into train/val like
// training on text does (data/corpus.h: by the documents' keys), the train documents in a
// seeded shuffled order, the val documents in their base order, each document's tokens
// followed by <|endoftext|> (SPEC §6).
//
// ShardStream reads one split as one cyclic stream: the shards' tokens concatenated in
// file order, wrapping around at the end (an epoch). Window k of a stream position p is
// tokens p .. p+T (T+1 tokens: ids the first T, targets the last T); windows advance by T
// like data::TokenBuffer's. Each batch is read from the files with pread (B·T+1 tokens), so
// the process holds one batch, the shard list and one open file per shard — nothing that
// grows with the token count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "data/token_buffer.h"
#include "data/tokenizer.h"

namespace tinyr2::data {

inline constexpr int32_t kShardMagic = 20240520;
inline constexpr int32_t kShardVersion = 1;
inline constexpr int64_t kShardHeaderInts = 256;
inline constexpr int64_t kMaxShardTokens = 100'000'000;

struct ShardFile {
  std::string path;
  int64_t tokens = 0;
};

// "DIR/train_000003.bin".
std::string shard_path(const std::string& dir, const std::string& split, int64_t index);

// The shards of one split ("train" or "val") in DIR, in index order, their headers checked
// (magic, version, count, file size = header + 2·count). Numbering must run 0, 1, 2, ...
// without a gap. tinyr2::Error naming the file on any violation. Empty if there are none.
std::vector<ShardFile> list_shards(const std::string& dir, const std::string& split);

// Whether PATH is a directory holding at least one train_NNNNNN.bin.
bool is_shard_directory(const std::string& path);

// Writes the shards of one split into DIR (created), a new file every `max_tokens` tokens.
class ShardWriter {
 public:
  ShardWriter(std::string dir, std::string split, int64_t max_tokens = kMaxShardTokens);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Tokens must be in [0, 65535] (uint16); tinyr2::Error otherwise.
  void append(const int32_t* tokens, int64_t n);
  // Completes the open shard (its header's count). Returns the files written.
  std::vector<ShardFile> finish();

 private:
  void close_shard();

  std::string dir_, split_;
  int64_t max_tokens_;
  std::vector<ShardFile> written_;
  std::FILE* file_ = nullptr;
  int64_t in_shard_ = 0;
};

// One split's shards as a cyclic token stream (see above).
class ShardStream {
 public:
  // The shards must hold ≥ seq_len + 1 tokens in all; batch_size, seq_len ≥ 1.
  ShardStream(std::vector<ShardFile> shards, int64_t batch_size, int64_t seq_len);
  ~ShardStream();
  ShardStream(ShardStream&& other) noexcept;
  ShardStream(const ShardStream&) = delete;
  ShardStream& operator=(const ShardStream&) = delete;
  ShardStream& operator=(ShardStream&&) = delete;

  Batch next();
  // Skips n batches without reading them.
  void skip(int64_t n);

  // {"shards", "total_tokens", "offset", "epoch"}; restore() checks the shard count and
  // the token total against the files.
  nlohmann::json position() const;
  void restore(const nlohmann::json& position);

  int64_t total_tokens() const { return total_; }

 private:
  void read(int64_t pos, int64_t n, int32_t* out) const;  // n ≤ total_ tokens, cyclic

  std::vector<ShardFile> shards_;
  std::vector<int> fds_;
  std::vector<int64_t> starts_;  // first stream index of each shard
  int64_t B_, T_, total_ = 0;
  int64_t offset_ = 0, epoch_ = 0;
};

struct PrepareOptions {
  int64_t shard_tokens = kMaxShardTokens;
  uint64_t seed = 1337;  // the train documents' order
};

struct PrepareResult {
  std::vector<ShardFile> train, val;
  int64_t documents = 0, tokens = 0;
};

// Progress after each chunk of documents: bytes of text done, of total, tokens written.
using PrepareProgress =
    std::function<void(int64_t done_bytes, int64_t total_bytes, int64_t tokens)>;

// Tokenizes the corpus into DIR (created; existing shards of either split are an error).
PrepareResult prepare_shards(const Corpus& corpus, const Tokenizer& tokenizer,
                             const std::string& dir, const PrepareOptions& options,
                             const PrepareProgress& progress = {});

}  // namespace tinyr2::data
