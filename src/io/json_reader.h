// The one bounded entry point for reading JSON text from outside the program (config files,
// --set values, safetensors headers, checkpoints, JSONL lines, the GGUF config text, HTTP
// bodies). Hostile input cannot crash it, exhaust memory or echo megabytes back:
//
//   nlohmann::json j = io::parse_json(text, "runs/x/config.json");      // default limits
//   nlohmann::json h = io::parse_json(text, file, {.max_bytes = 100 << 20});
//
// Limits (JsonLimits): nesting depth, total bytes, length of one string or key, number of
// values. Also rejected: a key twice in one object, bytes after the value (other than
// whitespace), invalid UTF-8 and anything else nlohmann's strict parser rejects. Every
// problem throws tinyr2::Error "<source>: invalid JSON: <what>, at byte N" on one line, with
// any quoted input cut to a few dozen characters. The parse itself is iterative (nlohmann's
// SAX parser), and the depth limit keeps recursive operations on the result (dump, copy,
// compare) shallow.
//
// json_excerpt(v) / text_excerpt(s): a value or text for an error message, cut to `max`
// characters with "…" — never print a user's value with dump() directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tinyr2::io {

struct JsonLimits {
  size_t max_depth = 64;                // arrays/objects open at once
  size_t max_bytes = 16u << 20;         // the whole text
  size_t max_string = 1u << 20;         // one string or key, in bytes
  size_t max_values = size_t{1} << 20;  // values of any kind (an array of N numbers: N + 1)
};

// Parses `text` as exactly one JSON value; `source` names it in messages (a path, "--set x").
nlohmann::json parse_json(std::string_view text, const std::string& source,
                          const JsonLimits& limits = {});

// Reads a whole file (refusing one over limits.max_bytes before reading it) and parses it.
// Errors name the path and, for filesystem problems, the OS reason.
// `kind` names the file in "cannot open" messages ("config file").
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {},
                              const char* kind = "JSON file");

// For messages: at most `max` bytes of the text (not cutting a UTF-8 sequence), "…" appended
// when cut, control characters escaped (\n, \x01) so that the message stays on one line.
std::string text_excerpt(std::string_view text, size_t max = 40);
std::string json_excerpt(const nlohmann::json& value, size_t max = 40);

}  // namespace tinyr2::io
