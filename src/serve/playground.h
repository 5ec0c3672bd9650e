// The playground page served at / (SPEC §14): one self-contained HTML document with its CSS and
// JavaScript inline, no external assets — a prompt box, temperature / top-k / top-p / max
// tokens / seed, a Generate button that streams /v1/completions into the output, and the
// tokens/s of the stream.
#pragma once

#include <string_view>

namespace tinyr2::serve {

std::string_view playground_html();

}  // namespace tinyr2::serve
