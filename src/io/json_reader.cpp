#include "io/json_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace tinyr2::io {

namespace {

using json = nlohmann::json;

// A DOM builder for nlohmann's SAX parser that enforces JsonLimits and rejects duplicate
// keys. Returning false stops the parse at once; `problem` then says why.
class BoundedBuilder {
 public:
  BoundedBuilder(json& root, const JsonLimits& limits) : root_(root), limits_(limits) {}

  std::string problem;  // set when a callback refused; empty on a parse error

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(json::number_integer_t v) { return add(v); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v); }
  bool number_float(json::number_float_t v, const json::string_t& text) {
    if (!std::isfinite(v))
      return refuse(fmt::format("number {} is out of range", text_excerpt(text)));
    return add(v);
  }
  bool string(json::string_t& s) {
    if (s.size() > limits_.max_string) return refuse(too_long("a string", s));
    return add(std::move(s));
  }
  bool binary(json::binary_t&) { return refuse("binary values are not JSON"); }

  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    if (k.size() > limits_.max_string) return refuse(too_long("a key", k));
    json& object = *stack_.back();
    if (object.contains(k)) return refuse(fmt::format("duplicate key \"{}\"", text_excerpt(k)));
    pending_key_ = &object[k];
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    error_ = e.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  bool refuse(std::string why) {
    problem = std::move(why);
    return false;
  }

  std::string too_long(const char* what, const std::string& s) const {
    return fmt::format("{} of {} bytes exceeds the limit of {} (\"{}\")", what, s.size(),
                       limits_.max_string, text_excerpt(s, 24));
  }

  template <class V>
  bool add(V&& v) {
    if (++values_ > limits_.max_values)
      return refuse(fmt::format("more than {} values", limits_.max_values));
    place(json(std::forward<V>(v)));
    return true;
  }

  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    *pending_key_ = std::move(v);
    return pending_key_;
  }

  bool open(json::value_t type) {
    if (stack_.size() >= limits_.max_depth)
      return refuse(fmt::format("nested deeper than {} levels", limits_.max_depth));
    if (++values_ > limits_.max_values)
      return refuse(fmt::format("more than {} values", limits_.max_values));
    stack_.push_back(place(json(type)));
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  const JsonLimits& limits_;
  std::vector<json*> stack_;
  json* pending_key_ = nullptr;
  size_t values_ = 0;
  std::string error_;
};

// nlohmann's message without its "[json.exception.parse_error.101] " prefix and with the
// "last read: '…'" token (which can be the whole input) cut short.
std::string short_parse_error(const std::string& what) {
  std::string s = what;
  const size_t close = s.find("] ");
  if (s.rfind("[json.exception.", 0) == 0 && close != std::string::npos) s = s.substr(close + 2);
  const std::string marker = "last read: '";
  const size_t at = s.find(marker);
  if (at != std::string::npos) {
    const size_t start = at + marker.size();
    const size_t end = s.rfind('\'');
    const std::string token =
        end != std::string::npos && end >= start ? s.substr(start, end - start) : s.substr(start);
    const std::string rest = end != std::string::npos && end >= start ? s.substr(end) : "'";
    s = s.substr(0, start) + text_excerpt(token, 30) + rest;
  }
  return text_excerpt(s, 300);
}

}  // namespace

json parse_json(std::string_view text, const std::string& source, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    fail("{}: invalid JSON: {} bytes exceed the limit of {} bytes", source, text.size(),
         limits.max_bytes);
  json root;
  BoundedBuilder builder(root, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                         /*strict=*/true);
  } catch (const json::exception& e) {  // defensive: the builder itself does not throw these
    fail("{}: invalid JSON: {}", source, short_parse_error(e.what()));
  }
  if (!ok) {
    if (!builder.problem.empty()) fail("{}: invalid JSON: {}", source, builder.problem);
    fail("{}: invalid JSON: {}", source, short_parse_error(builder.error()));
  }
  return root;
}

json read_json_file(const std::string& path, const JsonLimits& limits, const char* kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail("{}: cannot open {}: {}", path, kind, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("{}: cannot open {}: Is a directory", path, kind);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limits.max_bytes)
    fail("{}: invalid JSON: {} bytes exceed the limit of {} bytes", path,
         static_cast<uint64_t>(st.st_size), limits.max_bytes);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open {}: {}", path, kind, std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > limits.max_bytes)
      fail("{}: invalid JSON: more than the limit of {} bytes", path, limits.max_bytes);
  }
  if (f.bad()) fail("{}: read error: {}", path, std::strerror(errno));
  return parse_json(text, path, limits);
}

std::string text_excerpt(std::string_view text, size_t max) {
  size_t cut = text.size();
  if (cut > max) {
    cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  }
  // Control characters escaped, so that a message stays on one line.
  std::string out;
  for (const char c : text.substr(0, cut)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  return cut < text.size() ? out + "…" : out;
}

std::string json_excerpt(const json& value, size_t max) {
  // Strings and containers can be large: dump only a bounded prefix's worth.
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    const std::string head = json(s.substr(0, std::min(s.size(), max + 4)))
                                 .dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > max + 4 ? text_excerpt(head, max) : text_excerpt(head, max + 2);
  }
  if (value.is_array() || value.is_object()) {
    // Build the text element by element, stopping once it is long enough.
    std::string out = value.is_array() ? "[" : "{";
    bool first = true;
    for (auto it = value.begin(); it != value.end() && out.size() <= max; ++it) {
      if (!first) out += ",";
      first = false;
      if (value.is_object()) out += json(it.key()).dump() + ":";
      out += json_excerpt(*it, max);
    }
    if (out.size() <= max) out += value.is_array() ? "]" : "}";
    return text_excerpt(out, max);
  }
  return text_excerpt(value.dump(), max);
}

}  // namespace tinyr2::io
