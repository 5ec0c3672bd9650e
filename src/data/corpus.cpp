// Document sources and the train/val split; see corpus.h.
#include "data/corpus.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/tokenizer.h"
#include "io/file_io.h"
#include "io/json_reader.h"

namespace tinyr2::data {

namespace {

namespace fs = std::filesystem;

std::string read_whole(const fs::path& path) {
  return io::read_whole_file(path.string(), "data file");
}

bool is_text(std::string_view bytes) {
  return std::memchr(bytes.data(), 0, bytes.size()) == nullptr && is_utf8(bytes);
}

bool is_jsonl(const fs::path& path) {
  return path.extension() == ".jsonl";
}

// The "text" field of one JSONL line, or an error naming FILE:LINE.
std::string jsonl_text(std::string_view line, const std::string& path, int64_t index) {
  // A line may hold a whole document: no size limits beyond the file's, but the nesting and
  // value-count limits, duplicate keys and trailing bytes are checked like every JSON reader.
  io::JsonLimits limits;
  limits.max_bytes = limits.max_string = line.size();
  const nlohmann::json j = io::parse_json(line, fmt::format("{}:{}", path, index + 1), limits);
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
    fail("{}:{}: expected a JSON object with a string field \"text\"", path, index + 1);
  return j["text"].get<std::string>();
}

struct Scanner {
  std::vector<Document> docs;
  int64_t files = 0;
  int64_t skipped = 0;

  // One file; `key` is its path relative to the source (or its name).
  void add_file(const fs::path& path, const std::string& key) {
    const std::string bytes = read_whole(path);
    if (!is_text(bytes)) {
      ++skipped;
      return;
    }
    ++files;
    if (!is_jsonl(path)) {
      docs.push_back({path.string(), key, -1, 0, static_cast<int64_t>(bytes.size())});
      return;
    }
    size_t start = 0;
    for (int64_t index = 0; start < bytes.size(); ++index) {
      size_t end = bytes.find('\n', start);
      if (end == std::string::npos) end = bytes.size();
      const std::string_view line = std::string_view(bytes).substr(start, end - start);
      if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
        jsonl_text(line, path.string(), index);  // validate now: errors at scan time
        docs.push_back({path.string(), key + ":" + std::to_string(index), index,
                        static_cast<int64_t>(start), static_cast<int64_t>(line.size())});
      }
      start = end + 1;
    }
  }

  void add_directory(const fs::path& root, const std::string& glob) {
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) fail("cannot list {}: {}", root.string(), ec.message());
    std::vector<fs::path> files_found;
    for (const auto end = fs::recursive_directory_iterator(); it != end; it.increment(ec)) {
      if (ec) fail("cannot list {}: {}", root.string(), ec.message());
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      if (!glob.empty() && fnmatch(glob.c_str(), name.c_str(), 0) != 0) continue;
      files_found.push_back(it->path());
    }
    std::sort(files_found.begin(), files_found.end());
    for (const auto& p : files_found) add_file(p, p.lexically_relative(root).generic_string());
  }
};

}  // namespace

double split_value(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;  // splitmix64 finalizer: spreads FNV's weak low bits
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

std::string read_document(const Document& doc) {
  if (doc.line < 0) return read_whole(doc.path);
  std::ifstream in(doc.path, std::ios::binary);
  std::string line(static_cast<size_t>(doc.size), '\0');
  if (!in || !in.seekg(doc.offset) || !in.read(line.data(), doc.size))
    fail("cannot read line {} of {} (has the file changed?)", doc.line + 1, doc.path);
  return jsonl_text(line, doc.path, doc.line);
}

Corpus Corpus::scan(const std::vector<std::string>& sources, const CorpusOptions& options) {
  if (!(options.val_fraction >= 0.0 && options.val_fraction < 1.0))
    fail("val_fraction must be in [0, 1), got {}", options.val_fraction);
  if (sources.empty()) fail("no data sources given");
  Scanner scanner;
  for (const std::string& source : sources) {
    const fs::path path(source);
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) fail("data path not found: {}", source);
    if (fs::is_directory(status))
      scanner.add_directory(path, options.glob);
    else
      scanner.add_file(path, path.filename().string());
  }
  if (scanner.docs.empty()) {
    std::string skipped;
    if (scanner.skipped > 0)
      skipped = fmt::format(" ({} binary or non-UTF-8 files skipped)", scanner.skipped);
    fail("no documents found under {}{}", fmt::join(sources, ", "), skipped);
  }

  Corpus corpus;
  corpus.num_files_ = scanner.files;
  corpus.skipped_files_ = scanner.skipped;
  std::vector<double> value(scanner.docs.size());
  for (size_t i = 0; i < scanner.docs.size(); ++i) value[i] = split_value(scanner.docs[i].key);
  std::vector<bool> in_val(scanner.docs.size());
  for (size_t i = 0; i < value.size(); ++i) in_val[i] = value[i] < options.val_fraction;
  const auto n_val = std::count(in_val.begin(), in_val.end(), true);
  if (scanner.docs.size() >= 2 && options.val_fraction > 0) {
    if (n_val == 0) in_val[std::min_element(value.begin(), value.end()) - value.begin()] = true;
    if (n_val == static_cast<int64_t>(value.size()))
      in_val[std::max_element(value.begin(), value.end()) - value.begin()] = false;
  }
  for (size_t i = 0; i < scanner.docs.size(); ++i)
    (in_val[i] ? corpus.val_ : corpus.train_).push_back(std::move(scanner.docs[i]));
  return corpus;
}

std::string Corpus::summary() const {
  return fmt::format(
      "{} documents ({} train, {} val) from {} files; {} binary or non-UTF-8 files skipped",
      train_.size() + val_.size(), train_.size(), val_.size(), num_files_, skipped_files_);
}

}  // namespace tinyr2::data
