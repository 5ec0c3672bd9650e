// Token shards: writer, reader, stream and `prepare`; see token_shards.h (SPEC §15).
#include "data/token_shards.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"

namespace tinyr2::data {

namespace fs = std::filesystem;

namespace {

using Header = std::array<int32_t, kShardHeaderInts>;
constexpr int64_t kHeaderBytes = kShardHeaderInts * 4;

void read_exact(int fd, void* out, int64_t bytes, int64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, p, static_cast<size_t>(bytes), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) fail("{}: read error at byte {}: {}", path, offset, std::strerror(errno));
    p += got, bytes -= got, offset += got;
  }
}

ShardFile check_shard(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  Header h{};
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  try {
    if (!stat_ok || st.st_size < kHeaderBytes)
      fail("{}: not a token shard (shorter than its 1024-byte header)", path);
    read_exact(fd, h.data(), kHeaderBytes, 0, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (h[0] != kShardMagic)
    fail("{}: not a token shard (magic {}, expected {})", path, h[0], kShardMagic);
  if (h[1] != kShardVersion) fail("{}: shard version {}, expected {}", path, h[1], kShardVersion);
  const int64_t n = h[2];
  if (n < 0 || n > kMaxShardTokens) fail("{}: token count {} out of range", path, n);
  if (st.st_size != kHeaderBytes + 2 * n)
    fail("{}: {} bytes, but its header says {} tokens ({} bytes)", path, st.st_size, n,
         kHeaderBytes + 2 * n);
  return {path, n};
}

}  // namespace

std::string shard_path(const std::string& dir, const std::string& split, int64_t index) {
  return (fs::path(dir) / fmt::format("{}_{:06d}.bin", split, index)).string();
}

std::vector<ShardFile> list_shards(const std::string& dir, const std::string& split) {
  std::vector<int64_t> indices;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string prefix = split + "_";
    if (name.size() != prefix.size() + 10 || name.rfind(prefix, 0) != 0 ||
        name.substr(name.size() - 4) != ".bin")
      continue;
    const std::string digits = name.substr(prefix.size(), 6);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    indices.push_back(std::stoll(digits));
  }
  if (ec) fail("{}: cannot list: {}", dir, ec.message());
  std::sort(indices.begin(), indices.end());
  std::vector<ShardFile> out;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] != static_cast<int64_t>(i))
      fail("{}: {} shards are not numbered 0, 1, 2, ...: {} is missing", dir, split,
           shard_path(dir, split, static_cast<int64_t>(i)));
    out.push_back(check_shard(shard_path(dir, split, indices[i])));
  }
  return out;
}

bool is_shard_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(shard_path(path, "train", 0), ec);
}

// ---- writer ----

ShardWriter::ShardWriter(std::string dir, std::string split, int64_t max_tokens)
    : dir_(std::move(dir)), split_(std::move(split)), max_tokens_(max_tokens) {
  if (max_tokens_ < 1 || max_tokens_ > kMaxShardTokens)
    fail("tokens per shard must be in [1, {}], got {}", kMaxShardTokens, max_tokens_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail("{}: cannot create directory: {}", dir_, ec.message());
}

ShardWriter::~ShardWriter() {
  if (file_) std::fclose(file_);
}

void ShardWriter::append(const int32_t* tokens, int64_t n) {
  std::vector<uint16_t> buf;
  while (n > 0) {
    if (!file_) {
      const std::string path = shard_path(dir_, split_, static_cast<int64_t>(written_.size()));
      file_ = std::fopen(path.c_str(), "wb");
      if (!file_) fail("{}: cannot create: {}", path, std::strerror(errno));
      const Header zero{};
      std::fwrite(zero.data(), 4, zero.size(), file_);  // the count is written on close
      written_.push_back({path, 0});
      in_shard_ = 0;
    }
    const int64_t take = std::min(n, max_tokens_ - in_shard_);
    buf.resize(static_cast<size_t>(take));
    for (int64_t i = 0; i < take; ++i) {
      if (tokens[i] < 0 || tokens[i] > 65535)
        fail("token {} does not fit a uint16 shard (vocabulary above 65536?)", tokens[i]);
      buf[static_cast<size_t>(i)] = static_cast<uint16_t>(tokens[i]);
    }
    if (std::fwrite(buf.data(), 2, buf.size(), file_) != buf.size())
      fail("{}: write error", written_.back().path);
    tokens += take, n -= take, in_shard_ += take;
    if (in_shard_ == max_tokens_) close_shard();
  }
}

void ShardWriter::close_shard() {
  if (!file_) return;
  const Header h{kShardMagic, kShardVersion, static_cast<int32_t>(in_shard_)};
  const bool ok =
      std::fseek(file_, 0, SEEK_SET) == 0 && std::fwrite(h.data(), 4, h.size(), file_) == h.size();
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  written_.back().tokens = in_shard_;
  if (!ok || !closed) fail("{}: write error", written_.back().path);
}

std::vector<ShardFile> ShardWriter::finish() {
  close_shard();
  return written_;
}

// ---- stream ----

ShardStream::ShardStream(std::vector<ShardFile> shards, int64_t batch_size, int64_t seq_len)
    : shards_(std::move(shards)), B_(batch_size), T_(seq_len) {
  if (B_ < 1 || T_ < 1) fail("batch size and sequence length must be ≥ 1, got {} and {}", B_, T_);
  for (const ShardFile& s : shards_) {
    starts_.push_back(total_);
    total_ += s.tokens;
  }
  if (total_ < T_ + 1)
    fail("the shards hold {} tokens, fewer than one window of {} + 1", total_, T_);
  for (const ShardFile& s : shards_) {
    const int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      for (const int f : fds_) ::close(f);
      fail("{}: cannot open: {}", s.path, std::strerror(errno));
    }
    fds_.push_back(fd);
  }
}

ShardStream::ShardStream(ShardStream&& o) noexcept
    : shards_(std::move(o.shards_)),
      fds_(std::move(o.fds_)),
      starts_(std::move(o.starts_)),
      B_(o.B_),
      T_(o.T_),
      total_(o.total_),
      offset_(o.offset_),
      epoch_(o.epoch_) {
  o.fds_.clear();
}

ShardStream::~ShardStream() {
  for (const int fd : fds_) ::close(fd);
}

void ShardStream::read(int64_t pos, int64_t n, int32_t* out) const {
  std::vector<uint16_t> buf;
  while (n > 0) {
    pos %= total_;
    // The shard holding pos: the last whose start is ≤ pos (empty shards are skipped).
    const size_t s = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), pos) -
                                         starts_.begin()) -
                     1;
    const int64_t in = pos - starts_[s];
    const int64_t take = std::min(n, shards_[s].tokens - in);
    buf.resize(static_cast<size_t>(take));
    read_exact(fds_[s], buf.data(), 2 * take, kHeaderBytes + 2 * in, shards_[s].path);
    for (int64_t i = 0; i < take; ++i) out[i] = buf[static_cast<size_t>(i)];
    out += take, pos += take, n -= take;
  }
}

Batch ShardStream::next() {
  Batch batch;
  batch.B = B_;
  batch.T = T_;
  const int64_t n = B_ * T_ + 1;  // B consecutive windows overlap by one token
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  read(offset_, n, tokens.data());
  batch.ids.resize(static_cast<size_t>(B_ * T_));
  batch.targets.resize(static_cast<size_t>(B_ * T_));
  for (int64_t b = 0; b < B_; ++b) {
    const int32_t* w = tokens.data() + b * T_;
    std::copy(w, w + T_, batch.ids.begin() + b * T_);
    std::copy(w + 1, w + T_ + 1, batch.targets.begin() + b * T_);
  }
  skip(1);
  return batch;
}

void ShardStream::skip(int64_t n) {
  offset_ += n * B_ * T_;
  epoch_ += offset_ / total_;
  offset_ %= total_;
}

nlohmann::json ShardStream::position() const {
  return {
      {"shards", shards_.size()}, {"total_tokens", total_}, {"offset", offset_}, {"epoch", epoch_}};
}

void ShardStream::restore(const nlohmann::json& p) {
  int64_t shards = 0, total = 0, offset = 0, epoch = 0;
  try {
    shards = p.at("shards").get<int64_t>();
    total = p.at("total_tokens").get<int64_t>();
    offset = p.at("offset").get<int64_t>();
    epoch = p.at("epoch").get<int64_t>();
  } catch (const std::exception& e) {
    fail("malformed shard position {}: {}", p.dump(), e.what());
  }
  if (shards != static_cast<int64_t>(shards_.size()) || total != total_)
    fail(
        "the shards differ from those the position was saved with ({} shards, {} tokens; now "
        "{} shards, {} tokens)",
        shards, total, shards_.size(), total_);
  if (offset < 0 || offset >= total_ || epoch < 0)
    fail("shard position out of range: offset {}, epoch {}", offset, epoch);
  offset_ = offset;
  epoch_ = epoch;
}

// ---- prepare ----

PrepareResult prepare_shards(const Corpus& corpus, const Tokenizer& tokenizer,
                             const std::string& dir, const PrepareOptions& options,
                             const PrepareProgress& progress) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir, ec.message());
  if (fs::exists(shard_path(dir, "train", 0)) || fs::exists(shard_path(dir, "val", 0)))
    fail("{}: already holds token shards; choose another --out or remove them", dir);

  std::vector<Document> train = corpus.train();
  Rng rng(options.seed, 0);  // Fisher–Yates, like an epoch of data::TokenBuffer
  for (size_t i = train.size(); i > 1; --i) std::swap(train[i - 1], train[rng.next_below(i)]);

  int64_t total_bytes = 0, done_bytes = 0;
  for (const Document& d : corpus.train()) total_bytes += d.size;
  for (const Document& d : corpus.val()) total_bytes += d.size;

  PrepareResult result;
  constexpr int64_t kChunk = 256;  // documents tokenized in parallel, then written in order
  for (const std::string split : {"train", "val"}) {
    const std::vector<Document>& docs = split == "train" ? train : corpus.val();
    ShardWriter writer(dir, split, options.shard_tokens);
    const int64_t n = static_cast<int64_t>(docs.size());
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
      const int64_t c1 = std::min(n, c0 + kChunk);
      std::vector<std::vector<int32_t>> ids(static_cast<size_t>(c1 - c0));
      std::string error;
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t i = c0; i < c1; ++i) {
        try {
          auto& out = ids[static_cast<size_t>(i - c0)];
          tokenizer.encode_append(read_document(docs[static_cast<size_t>(i)]), out);
          out.push_back(tokenizer.eot());
        } catch (const std::exception& e) {
#pragma omp critical(tinyr2_prepare_shards)
          if (error.empty()) error = e.what();
        }
      }
      if (!error.empty()) throw Error(error);
      for (int64_t i = c0; i < c1; ++i) {
        const auto& v = ids[static_cast<size_t>(i - c0)];
        writer.append(v.data(), static_cast<int64_t>(v.size()));
        result.tokens += static_cast<int64_t>(v.size());
        done_bytes += docs[static_cast<size_t>(i)].size;
      }
      result.documents += c1 - c0;
      if (progress) progress(done_bytes, total_bytes, result.tokens);
    }
    (split == "train" ? result.train : result.val) = writer.finish();
  }
  return result;
}

}  // namespace tinyr2::data
