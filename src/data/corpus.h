// Training documents (SPEC §6 Data): where they come from and the train/val split.
//
// A source is one of
//   - a directory: every regular file under it (recursively) whose name matches the glob
//     (fnmatch on the file name; empty = every file). Entries whose name starts with '.' are
//     skipped (.git, .venv, ...), symlinked directories are not followed;
//   - a text file: one document;
//   - a JSONL file (name ending in .jsonl, given directly or found in a directory): one
//     document per non-blank line, the line's "text" string field (the flytech/
//     python-codes-25k export format). A line that is not a JSON object with a string
//     "text" is an error naming FILE:LINE.
// Files that are not text — holding a NUL byte or not well-formed UTF-8 — are skipped and
// counted (skipped_files()).
//
// Split: each document has a key — its path relative to its source directory (a file given
// directly: its file name), plus ":LINE" (0-based) for a JSONL line. It goes to val iff
// split_value(key) < val_fraction, where split_value is a hash of the key mapped to [0, 1):
// the split depends only on the keys, not on the order files are found, the machine, or
// where the data directory lives. With at least two documents, neither side is left empty
// when 0 < val_fraction: the document of lowest split value goes to val (if val was empty),
// the one of highest to train (if train was empty).
//
// Scanning reads every file once (to check it is text) but keeps no text: documents are
// read again, one at a time, by read_document() when the TokenBuffer needs them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tinyr2::data {

struct Document {
  std::string path;    // the file it is read from
  std::string key;     // the split key (see above)
  int64_t line = -1;   // JSONL: 0-based line index; -1 for a whole file
  int64_t offset = 0;  // JSONL: byte offset of the line in the file; 0 for a whole file
  int64_t size = 0;    // bytes: the whole file, or the JSONL line
};

// The document's text (JSONL: the "text" field). Throws tinyr2::Error naming the file if it
// can no longer be read or its line no longer parses.
std::string read_document(const Document& doc);

// Maps a key to [0, 1) (FNV-1a 64, then the splitmix64 finalizer; top 53 bits).
double split_value(std::string_view key);

struct CorpusOptions {
  std::string glob;            // for directory sources; "" = all files
  double val_fraction = 0.05;  // in [0, 1)
};

class Corpus {
 public:
  // Throws tinyr2::Error for a missing source ("data path not found: PATH") and when no
  // document is found ("no documents found under PATH[, PATH...]").
  static Corpus scan(const std::vector<std::string>& sources, const CorpusOptions& options = {});

  // In a fixed base order: by source (in the order given), then by path, then by line.
  const std::vector<Document>& train() const { return train_; }
  const std::vector<Document>& val() const { return val_; }

  int64_t num_files() const { return num_files_; }          // files that gave documents
  int64_t skipped_files() const { return skipped_files_; }  // binary / not UTF-8
  // "N documents (A train, B val) from F files; S binary or non-UTF-8 files skipped"
  std::string summary() const;

 private:
  std::vector<Document> train_, val_;
  int64_t num_files_ = 0;
  int64_t skipped_files_ = 0;
};

}  // namespace tinyr2::data
