#include "io/json_fields.h"

#include <cmath>

#include "core/error.h"
#include "io/json_reader.h"

namespace tinyr2::io {

std::string json_error_text(const nlohmann::json::exception& e) {
  std::string what = e.what();
  const size_t close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

JsonFields::JsonFields(const nlohmann::json& j, std::string context)
    : j_(j), context_(std::move(context)) {
  if (!j_.is_object()) fail("{}: expected a JSON object, got {}", context_, j_.type_name());
}

void JsonFields::error(const std::string& key, const std::string& what) const {
  fail("{}: \"{}\" {}", context_, key, what);
}

const nlohmann::json& JsonFields::raw(const std::string& key) {
  seen_.insert(key);
  return j_.at(key);
}

void JsonFields::integer(const std::string& key, int64_t& out, int64_t min, int64_t max) {
  if (!has(key)) return;
  const auto& v = raw(key);
  if (!v.is_number_integer())
    error(key, fmt::format("must be an integer, got {}", json_excerpt(v)));
  const int64_t x = v.get<int64_t>();
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max))
    error(key, fmt::format("= {} is out of range [{}, {}]", json_excerpt(v), min, max));
  if (x < min || x > max) {
    if (max == std::numeric_limits<int64_t>::max())
      error(key, fmt::format("= {} is out of range: must be ≥ {}", x, min));
    error(key, fmt::format("= {} is out of range [{}, {}]", x, min, max));
  }
  out = x;
}

void JsonFields::number(const std::string& key, double& out, double min, double max,
                        bool min_exclusive) {
  if (!has(key)) return;
  const auto& v = raw(key);
  if (!v.is_number()) error(key, fmt::format("must be a number, got {}", json_excerpt(v)));
  const double x = v.get<double>();
  const bool low = min_exclusive ? !(x > min) : !(x >= min);
  if (!std::isfinite(x) || low || x > max) {
    std::string range = fmt::format("{}{}, {}]", min_exclusive ? "(" : "[", min, max);
    error(key, fmt::format("= {} is out of range {}", json_excerpt(v), range));
  }
  out = x;
}

void JsonFields::boolean(const std::string& key, bool& out) {
  if (!has(key)) return;
  const auto& v = raw(key);
  if (!v.is_boolean())
    error(key, fmt::format("must be true or false (a JSON boolean), got {}", json_excerpt(v)));
  out = v.get<bool>();
}

void JsonFields::choice(const std::string& key, std::string& out,
                        const std::vector<std::string>& allowed) {
  if (!has(key)) return;
  const auto& v = raw(key);
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  if (!v.is_string()) error(key, fmt::format("must be one of {}, got {}", list, json_excerpt(v)));
  const std::string s = v.get<std::string>();
  for (const auto& a : allowed)
    if (s == a) {
      out = s;
      return;
    }
  error(key, fmt::format("must be one of {}, got {}", list, json_excerpt(v)));
}

void JsonFields::finish() const {
  for (auto it = j_.begin(); it != j_.end(); ++it)
    if (!seen_.count(it.key())) fail("{}: unknown key \"{}\"", context_, text_excerpt(it.key()));
}

}  // namespace tinyr2::io
