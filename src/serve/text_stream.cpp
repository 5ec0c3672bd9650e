#include "serve/text_stream.h"

#include <algorithm>

namespace tinyr2::serve {

namespace {

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for bytes that cannot lead).
size_t sequence_length(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 1;
}

// The end of the longest prefix of s[0, end) that does not end inside an incomplete UTF-8
// sequence (looks at the last 3 bytes at most).
size_t complete_utf8(const std::string& s, size_t begin, size_t end) {
  for (size_t k = 1; k <= std::min<size_t>(3, end - begin); ++k) {
    const auto c = static_cast<unsigned char>(s[end - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    return sequence_length(c) > k ? end - k : end;
  }
  return end;
}

}  // namespace

TextStream::TextStream(std::vector<std::string> stops) {
  for (std::string& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string TextStream::push(std::string_view bytes) {
  if (stopped_) return {};
  text_.append(bytes);
  // A stop string can only start at or after sent_: nothing that could begin one is sent.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, text_.find(s, sent_));
  if (first != std::string::npos) {
    stopped_ = true;
    text_.resize(first);
    std::string out = text_.substr(sent_);
    sent_ = first;
    return out;
  }
  // Hold back the longest tail that is a proper prefix of a stop string.
  size_t hold = 0;
  for (const std::string& s : stops_)
    for (size_t k = std::min(s.size() - 1, text_.size() - sent_); k > hold; --k)
      if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  const size_t ready = complete_utf8(text_, sent_, text_.size() - hold);
  std::string out = text_.substr(sent_, ready - sent_);
  sent_ = ready;
  return out;
}

std::string TextStream::finish() {
  std::string out = text_.substr(sent_);
  sent_ = text_.size();
  return out;
}

}  // namespace tinyr2::serve
