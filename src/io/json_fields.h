// Strict reading of a JSON object's fields, for config files.
//
//   JsonFields f(json, "config");          // context used in messages
//   f.integer("n_embd", cfg.n_embd, 1);    // optional key, integer ≥ 1
//   f.boolean("hc", cfg.hc);               // strict JSON boolean
//   f.finish();                            // unknown keys are errors
//
// Every problem throws tinyr2::Error naming the key, the bad value and what is allowed.
#pragma once

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tinyr2::io {

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, for one-line
// user errors ("parse error at line 1, column 14: ...").
std::string json_error_text(const nlohmann::json::exception& e);

class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, std::string context);

  bool has(const std::string& key) const { return j_.contains(key); }
  const nlohmann::json& raw(const std::string& key);  // marks the key as read

  void integer(const std::string& key, int64_t& out,
               int64_t min = std::numeric_limits<int64_t>::min(),
               int64_t max = std::numeric_limits<int64_t>::max());
  void number(const std::string& key, double& out,
              double min = -std::numeric_limits<double>::infinity(),
              double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false);
  void boolean(const std::string& key, bool& out);
  void choice(const std::string& key, std::string& out, const std::vector<std::string>& allowed);
  void ignore(const std::string& key) { seen_.insert(key); }

  // Throws on the first key that no reader asked for.
  void finish() const;

  [[noreturn]] void error(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json& j_;
  std::string context_;
  std::set<std::string> seen_;
};

}  // namespace tinyr2::io
