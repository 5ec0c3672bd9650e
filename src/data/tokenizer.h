// GPT-2 byte-level BPE tokenizer (SPEC §4), equal to tiktoken's `gpt2` encoding.
//
//   auto tok = Tokenizer::load();                 // $TINYR2_HOME/gpt2/{encoder.json,vocab.bpe}
//   std::vector<int32_t> ids = tok.encode(text);  // "<|endoftext|>" in text is plain text
//   std::string back = tok.decode(ids);           // == text, byte for byte
//
// Encoding, step by step:
//   1. Pre-tokenize with the GPT-2 pattern (PCRE2, JIT, UTF + UCP)
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      where \s means Unicode White_Space exactly, as in tiktoken's Rust regex (so U+0085 is
//      whitespace and U+FEFF is not; JavaScript's \s, used by gpt-3-encoder and js-tiktoken,
//      differs on exactly these two code points).
//   2. Each piece is a byte string; a piece that is a vocabulary entry is one token, otherwise
//      byte-pair merging applies: start from single bytes, repeatedly merge the adjacent pair
//      whose concatenation has the lowest rank (= token id; leftmost on ties), as tiktoken does.
//      Results of merged pieces are cached (a bounded, mutex-guarded cache inside the
//      tokenizer), so encode() may be called from several threads at once.
//
// Invalid UTF-8. encode() takes arbitrary bytes. Every byte that is not part of a well-formed
// UTF-8 sequence (Unicode §3.9: no overlongs, no surrogates, nothing above U+10FFFF, no
// truncated sequences) counts, for step 1, as a character of the class
// [^\s\p{L}\p{N}] — the class of U+FFFD — and its raw byte goes through step 2 unchanged
// ("bytes map through"). Hence: for valid UTF-8 the ids are tiktoken's gpt2 ids; for invalid
// UTF-8 the pieces are those tiktoken makes for bytes.decode("utf-8", "replace"), with every
// U+FFFD put back as the original bytes; and decode(encode(b)) == b for every byte string b.
//
// Special token: <|endoftext|> = 50256. encode() treats the literal string "<|endoftext|>"
// as ordinary text (tiktoken's encode_ordinary); encode(text, /*allow_special=*/true) turns
// each occurrence into 50256 (tiktoken's encode with allowed_special={"<|endoftext|>"}).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tinyr2::data {

// $TINYR2_HOME/gpt2, with TINYR2_HOME defaulting to ~/.cache/tinyr2.
std::string default_tokenizer_dir();

// Whether the bytes are well-formed UTF-8 (Unicode §3.9: no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence).
bool is_utf8(std::string_view bytes);

class Tokenizer {
 public:
  // Reads DIR/encoder.json and DIR/vocab.bpe. A missing or malformed file throws
  // tinyr2::Error (a missing one says to run scripts/setup).
  static Tokenizer load(const std::string& dir = default_tokenizer_dir());

  std::vector<int32_t> encode(std::string_view text, bool allow_special = false) const;
  // Appends the ids of `text` to `out` (no allocation of a fresh vector per document).
  void encode_append(std::string_view text, std::vector<int32_t>& out,
                     bool allow_special = false) const;

  // The bytes of the ids, concatenated (eot() gives "<|endoftext|>"). An id outside
  // [0, vocab_size()) throws tinyr2::Error.
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string_view token_bytes(int32_t id) const;  // one token's bytes (same checks)

  int32_t eot() const { return kEot; }
  int64_t vocab_size() const { return kVocabSize; }

  static constexpr int32_t kEot = 50256;
  static constexpr int64_t kVocabSize = 50257;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable tables + an internally locked cache
};

}  // namespace tinyr2::data
