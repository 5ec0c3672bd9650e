// GPT-2 byte-level BPE; see tokenizer.h for the exact behaviour.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <queue>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tinyr2::data {

namespace {

// ---- the byte <-> unicode map of GPT-2 (bytes_to_unicode in openai/gpt-2 encoder.py) ----
// Printable bytes map to themselves as code points; the other 68 bytes map to 256, 257, ...
// in byte order. encoder.json and vocab.bpe spell every token through this map.
std::array<uint32_t, 256> byte_to_codepoint() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[b] = printable ? b : next++;
  }
  return map;
}

// ---- UTF-8 -----------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode §3.9, table 3-7), or 0.
inline size_t utf8_sequence_length(const unsigned char* s, size_t i, size_t n) {
  const unsigned c = s[i];
  if (c < 0x80) return 1;
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;        // no overlongs
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (c >= 0xE1 && c <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;  // ≤ U+10FFFF
  return 0;
}

// Decodes one code point of a well-formed sequence of length len.
uint32_t utf8_decode(const unsigned char* s, size_t len) {
  if (len == 1) return s[0];
  uint32_t cp = s[0] & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[k] & 0x3F);
  return cp;
}

// Index of the first byte that is not part of a well-formed sequence, or n.
size_t first_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const size_t len = utf8_sequence_length(s, i, n);
    if (len == 0) return i;
    i += len;
  }
  return n;
}

// A stand-in for an invalid byte during pre-tokenization: one byte, of the regex class
// [^\s\p{L}\p{N}] like U+FFFD, and not the apostrophe of the contractions.
constexpr char kInvalidByteStandIn = '?';

// ---- the pre-tokenizer pattern ---------------------------------------------------------
// \s is written out as Unicode White_Space (what Rust's regex, hence tiktoken, means by \s).
// clang-format off
#define TINYR2_WS \
  "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
// Letters (L) and numbers (N) that Unicode 15.0 to 16.0 added: tiktoken's regex knows them,
// the PCRE2 of Debian 12 (10.42, Unicode 14 tables) does not. Listing them makes the classes
// tiktoken's whatever the PCRE2 version (with newer tables they are merely redundant).
// Checked code point by code point by the test Tokenizer.EveryCodePointMatchesTiktoken.
#define TINYR2_NEW_L \
  "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}" \
  "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}" \
  "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}" \
  "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}" \
  "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}" \
  "\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}" \
  "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}" \
  "\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define TINYR2_NEW_N \
  "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}" \
  "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}" \
  "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"
constexpr const char* kPattern =
    "'s|'t|'re|'ve|'m|'ll|'d"
    "| ?[\\p{L}" TINYR2_NEW_L "]+"
    "| ?[\\p{N}" TINYR2_NEW_N "]+"
    "| ?[^" TINYR2_WS "\\p{L}\\p{N}" TINYR2_NEW_L TINYR2_NEW_N "]+"
    "|[" TINYR2_WS "]+(?![^" TINYR2_WS "])"
    "|[" TINYR2_WS "]+";
#undef TINYR2_WS
#undef TINYR2_NEW_L
#undef TINYR2_NEW_N
// clang-format on

struct Pcre2CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct Pcre2MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// ---- hashing -----------------------------------------------------------------------------

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Open-addressing map from an adjacent token pair (a, b) to the id of the token whose bytes
// are bytes(a) + bytes(b), if the vocabulary has one. That id is also the merge's rank.
class PairTable {
 public:
  void build(const std::vector<std::pair<uint64_t, int32_t>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, -1);
    mask_ = cap - 1;
    for (const auto& [key, value] : entries) {
      size_t h = slot(key);
      while (keys_[h] != kEmpty && keys_[h] != key) h = (h + 1) & mask_;
      keys_[h] = key;
      values_[h] = value;
    }
  }
  // The merged id, or -1.
  int32_t find(int32_t a, int32_t b) const {
    const uint64_t key = pack(a, b);
    for (size_t h = slot(key);; h = (h + 1) & mask_) {
      if (keys_[h] == key) return values_[h];
      if (keys_[h] == kEmpty) return -1;
    }
  }
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  size_t slot(uint64_t key) const { return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<int32_t> values_;
  size_t mask_ = 0;
};

// Merged pieces' ids, shared by all threads: 16 shards, each a map under its own mutex,
// emptied when it reaches its capacity (so memory stays bounded).
class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 256;

  bool lookup(std::string_view piece, std::vector<int32_t>& out) const {
    const size_t h = StringHash{}(piece);
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mutex);
    const auto it = s.map.find(piece);
    if (it == s.map.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void insert(std::string_view piece, const int32_t* ids, size_t n) const {
    if (piece.size() > kMaxPieceBytes) return;
    const size_t h = StringHash{}(piece);
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.map.size() >= kEntriesPerShard) s.map.clear();
    s.map.emplace(std::string(piece), std::vector<int32_t>(ids, ids + n));
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kEntriesPerShard = 1 << 14;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  mutable std::array<Shard, kShards> shards_;
};

std::string read_file(const std::filesystem::path& path, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(
        "GPT-2 vocabulary not found: {} is missing (run scripts/setup to fetch it into "
        "$TINYR2_HOME/gpt2, default ~/.cache/tinyr2/gpt2; tokenizer directory: {})",
        path.string(), dir);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) fail("cannot read {}", path.string());
  return ss.str();
}

}  // namespace

// ---- the tables --------------------------------------------------------------------------

struct Tokenizer::Impl {
  std::vector<std::string> token_bytes;  // id -> bytes (the special token: its text)
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;  // bytes -> id
  std::array<int32_t, 256> byte_ids{};                                        // single byte -> id
  PairTable pairs;
  std::unique_ptr<pcre2_code, Pcre2CodeDeleter> regex;
  bool jit = false;
  PieceCache cache;

  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void merge_small(std::string_view piece, std::vector<int32_t>& out) const;
  void merge_large(std::string_view piece, std::vector<int32_t>& out) const;
};

bool is_utf8(std::string_view bytes) {
  return first_invalid_utf8(bytes) == bytes.size();
}

std::string default_tokenizer_dir() {
  if (const char* home = std::getenv("TINYR2_HOME"); home && *home)
    return (std::filesystem::path(home) / "gpt2").string();
  const char* user_home = std::getenv("HOME");
  return (std::filesystem::path(user_home && *user_home ? user_home : ".") / ".cache" / "tinyr2" /
          "gpt2")
      .string();
}

Tokenizer Tokenizer::load(const std::string& dir) {
  auto impl = std::make_shared<Impl>();
  const std::filesystem::path root(dir);
  const std::string encoder_path = (root / "encoder.json").string();
  const std::string merges_path = (root / "vocab.bpe").string();
  const std::string encoder_text = read_file(encoder_path, dir);
  const std::string merges_text = read_file(merges_path, dir);

  // Token spellings (code points of the byte map) -> bytes.
  const auto b2c = byte_to_codepoint();
  std::unordered_map<uint32_t, unsigned char> c2b;
  for (int b = 0; b < 256; ++b) c2b[b2c[b]] = static_cast<unsigned char>(b);
  auto spelling_to_bytes = [&](const std::string& spelling, const std::string& where) {
    std::string bytes;
    const auto* s = reinterpret_cast<const unsigned char*>(spelling.data());
    for (size_t i = 0; i < spelling.size();) {
      const size_t len = utf8_sequence_length(s, i, spelling.size());
      const auto it = len ? c2b.find(utf8_decode(s + i, len)) : c2b.end();
      if (it == c2b.end()) fail("{}: token '{}' is not in GPT-2's byte alphabet", where, spelling);
      bytes.push_back(static_cast<char>(it->second));
      i += len;
    }
    return bytes;
  };

  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(encoder_text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON ({})", encoder_path, e.what());
  }
  if (!encoder.is_object() || static_cast<int64_t>(encoder.size()) != kVocabSize)
    fail("{}: expected an object of {} tokens", encoder_path, kVocabSize);
  impl->token_bytes.assign(kVocabSize, std::string());
  std::vector<bool> seen(kVocabSize, false);
  for (const auto& [spelling, value] : encoder.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() >= kVocabSize)
      fail("{}: token '{}' has id {}, expected an integer in [0, {})", encoder_path, spelling,
           value.dump(), kVocabSize);
    const auto id = value.get<int32_t>();
    if (seen[id]) fail("{}: id {} appears twice", encoder_path, id);
    seen[id] = true;
    if (id == kEot) {
      if (spelling != "<|endoftext|>") fail("{}: id {} is not <|endoftext|>", encoder_path, kEot);
      impl->token_bytes[id] = spelling;
      continue;  // special: never produced by byte-pair merging
    }
    std::string bytes = spelling_to_bytes(spelling, encoder_path);
    if (!impl->ids.emplace(bytes, id).second)
      fail("{}: two tokens spell the same bytes ('{}')", encoder_path, spelling);
    impl->token_bytes[id] = std::move(bytes);
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = impl->ids.find(std::string(1, static_cast<char>(b)));
    if (it == impl->ids.end()) fail("{}: no token for byte {}", encoder_path, b);
    impl->byte_ids[b] = it->second;
  }

  // vocab.bpe: "#version" then one merge "a b" per line. Merge i must create a token of the
  // vocabulary; merging ranks are the ids of the merged tokens (tiktoken's rule), which for
  // GPT-2 are 256 + i. Check that, so a mismatched pair of files is caught at load time.
  {
    std::istringstream lines(merges_text);
    std::string line;
    int64_t index = -1;
    while (std::getline(lines, line)) {
      if (index == -1 && line.rfind("#version", 0) == 0) {
        index = 0;
        continue;
      }
      if (index == -1) index = 0;
      if (line.empty()) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        fail("{}:{}: expected 'a b', got '{}'", merges_path, index + 2, line);
      const std::string merged = spelling_to_bytes(line.substr(0, space), merges_path) +
                                 spelling_to_bytes(line.substr(space + 1), merges_path);
      const auto it = impl->ids.find(merged);
      if (it == impl->ids.end() || it->second != 256 + index)
        fail("{}:{}: merge '{}' does not match token {} of {}", merges_path, index + 2, line,
             256 + index, encoder_path);
      ++index;
    }
    if (index != kEot - 256)
      fail("{}: expected {} merges, found {}", merges_path, kEot - 256,
           std::max<int64_t>(index, 0));
  }

  // The pair table: every way of cutting a token into two tokens.
  std::vector<std::pair<uint64_t, int32_t>> entries;
  for (int32_t id = 0; id < kEot; ++id) {
    const std::string& t = impl->token_bytes[id];
    for (size_t k = 1; k < t.size(); ++k) {
      const auto a = impl->ids.find(std::string_view(t).substr(0, k));
      const auto b = impl->ids.find(std::string_view(t).substr(k));
      if (a != impl->ids.end() && b != impl->ids.end())
        entries.emplace_back(PairTable::pack(a->second, b->second), id);
    }
  }
  impl->pairs.build(entries);

  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl->regex.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr));
  if (!impl->regex) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    fail("tokenizer pattern does not compile at offset {}: {}", error_offset,
         reinterpret_cast<const char*>(message));
  }
  impl->jit = pcre2_jit_compile(impl->regex.get(), PCRE2_JIT_COMPLETE) == 0;
  return Tokenizer(std::move(impl));
}

// ---- encoding ----------------------------------------------------------------------------

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 16);
  encode_append(text, out, allow_special);
  return out;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out,
                              bool allow_special) const {
  if (!allow_special) {
    impl_->encode_ordinary(text, out);
    return;
  }
  const std::string_view special = impl_->token_bytes[kEot];
  for (;;) {
    const size_t at = text.find(special);
    impl_->encode_ordinary(text.substr(0, at), out);
    if (at == std::string_view::npos) return;
    out.push_back(kEot);
    text.remove_prefix(at + special.size());
  }
}

void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  // The regex runs on valid UTF-8: invalid bytes are replaced by a one-byte stand-in of the
  // same class as U+FFFD, so offsets agree and the pieces are cut from the original bytes.
  std::string sanitized;
  std::string_view subject = text;
  if (size_t bad = first_invalid_utf8(text); bad < text.size()) {
    sanitized.assign(text);
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = bad; i < text.size();) {
      const size_t len = utf8_sequence_length(s, i, text.size());
      if (len == 0) {
        sanitized[i] = kInvalidByteStandIn;
        ++i;
      } else {
        i += len;
      }
    }
    subject = sanitized;
  }

  std::unique_ptr<pcre2_match_data, Pcre2MatchDataDeleter> match(
      pcre2_match_data_create_from_pattern(regex.get(), nullptr));
  TINYR2_CHECK(match != nullptr, "out of memory for a regex match");
  const auto* subject_ptr = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
  size_t pos = 0;
  while (pos < subject.size()) {
    const int rc = jit ? pcre2_jit_match(regex.get(), subject_ptr, subject.size(), pos,
                                         PCRE2_NO_UTF_CHECK, match.get(), nullptr)
                       : pcre2_match(regex.get(), subject_ptr, subject.size(), pos,
                                     PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    // The alternatives cover every character, so each match starts where the last ended.
    TINYR2_CHECK(rc > 0 && ovector[0] == pos && ovector[1] > pos,
                 "pre-tokenizer stopped at byte {} (pcre2 code {})", pos, rc);
    encode_piece(text.substr(pos, ovector[1] - pos), out);
    pos = ovector[1];
  }
}

void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_ids[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (const auto it = ids.find(piece); it != ids.end()) {
    out.push_back(it->second);
    return;
  }
  if (cache.lookup(piece, out)) return;
  const size_t before = out.size();
  if (piece.size() <= 64)
    merge_small(piece, out);
  else
    merge_large(piece, out);
  cache.insert(piece, out.data() + before, out.size() - before);
}

// Byte-pair merging, O(n²): parts and the merged id (= rank) of each adjacent pair in arrays;
// each step merges the leftmost pair of lowest rank. For short pieces (almost all of them).
void Tokenizer::Impl::merge_small(std::string_view piece, std::vector<int32_t>& out) const {
  constexpr int32_t kNone = INT32_MAX;
  std::array<int32_t, 64> part{};
  std::array<int32_t, 64> rank{};  // rank[i]: merge of part[i] and part[i+1], or kNone
  size_t n = piece.size();
  for (size_t i = 0; i < n; ++i) part[i] = byte_ids[static_cast<unsigned char>(piece[i])];
  auto pair_rank = [&](size_t i) {
    const int32_t r = pairs.find(part[i], part[i + 1]);
    return r < 0 ? kNone : r;
  };
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = pair_rank(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == kNone) break;
    part[best] = rank[best];
    for (size_t i = best + 1; i + 1 < n; ++i) part[i] = part[i + 1];
    for (size_t i = best + 1; i + 2 < n; ++i) rank[i] = rank[i + 1];
    --n;
    if (best > 0) rank[best - 1] = pair_rank(best - 1);
    if (best + 1 < n) rank[best] = pair_rank(best);
  }
  out.insert(out.end(), part.begin(), part.begin() + n);
}

// The same merging in O(n log n) for long pieces (long runs of spaces, digits, letters):
// parts in a linked list, candidate pairs in a min-heap of (rank, position of the left part);
// a popped candidate is used only if the pair at that position still has that rank.
void Tokenizer::Impl::merge_large(std::string_view piece, std::vector<int32_t>& out) const {
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<int32_t> part(n), next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    part[i] = byte_ids[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  using Candidate = std::pair<int32_t, int32_t>;  // (rank, left position)
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    const int32_t r = pairs.find(part[left], part[next[left]]);
    if (r >= 0) heap.emplace(r, left);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    const auto [r, left] = heap.top();
    heap.pop();
    if (!alive[left] || next[left] < 0 || pairs.find(part[left], part[next[left]]) != r)
      continue;  // stale
    const int32_t right = next[left];
    part[left] = r;
    alive[right] = false;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    push(prev[left]);
    push(left);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(part[i]);
}

// ---- decoding ----------------------------------------------------------------------------

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= kVocabSize)
    fail("token id {} is out of range: GPT-2 ids are 0..{}", id, kVocabSize - 1);
  return impl_->token_bytes[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int32_t id : ids) out.append(token_bytes(id));
  return out;
}

}  // namespace tinyr2::data
