// The text of one generation as it is streamed (SPEC §14): token bytes go in, text that is
// safe to send comes out. Held back are (a) a trailing UTF-8 sequence that is not complete
// yet and (b) a tail that could be the start of a stop string; a stop string ends the text
// before it (finish_reason "stop"), and nothing from the stop string on is ever sent. The
// concatenation of everything returned equals the final text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tinyr2::serve {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops = {});

  // Appends one token's bytes; returns the text that became safe to send (maybe empty).
  std::string push(std::string_view bytes);
  // At the end of the generation: everything still held back (empty after a stop).
  std::string finish();

  bool stopped() const { return stopped_; }
  const std::string& text() const { return text_; }  // the text so far (cut at a stop)

 private:
  std::vector<std::string> stops_;
  std::string text_;
  size_t sent_ = 0;
  bool stopped_ = false;
};

}  // namespace tinyr2::serve
