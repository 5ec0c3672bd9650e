// Reading and writing whole files with errors that name the path and the OS reason
// (strerror), never a bare "write error" or an exception from the C++ streams (issue 19).
//
//   std::string bytes = io::read_whole_file(path, "ids file");  // "Is a directory" named
//   io::AtomicFile f(path);           // writes PATH.tmp; refuses a directory as PATH
//   f.write(data, n);                 // each failure: "PATH: cannot write: No space left…"
//   f.commit();                       // flush, close, rename over PATH
// An AtomicFile destroyed without commit() (an error, an exception) removes PATH.tmp, so no
// temporary outlives a failed command.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace tinyr2::io {

// The whole file; `kind` names it in messages ("config file"). Refuses a directory.
std::string read_whole_file(const std::string& path, const char* kind = "file");

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const char* data, std::ptrdiff_t n);
  void write(const std::string& s) { write(s.data(), static_cast<std::ptrdiff_t>(s.size())); }
  void commit();

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void failed(const char* what, int err);
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool done_ = false;
};

// AtomicFile in one call.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace tinyr2::io
