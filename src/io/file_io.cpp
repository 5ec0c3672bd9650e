#include "io/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace tinyr2::io {

std::string read_whole_file(const std::string& path, const char* kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail("{}: cannot read {}: {}", path, kind, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("{}: cannot read {}: Is a directory", path, kind);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("{}: cannot read {}: {}", path, kind, std::strerror(errno));
  std::string bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err) fail("{}: cannot read {}: {}", path, kind, std::strerror(err));
  return bytes;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    fail("{}: cannot write: Is a directory", path_);
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail("{}: cannot write ({}): {}", path_, tmp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (done_) return;
  if (f_) std::fclose(f_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::failed(const char* what, int err) {
  if (f_) std::fclose(f_);
  f_ = nullptr;
  ::unlink(tmp_.c_str());
  done_ = true;
  fail("{}: {}: {}", path_, what, std::strerror(err));
}

void AtomicFile::write(const char* data, std::ptrdiff_t n) {
  if (n <= 0) return;
  if (std::fwrite(data, 1, static_cast<size_t>(n), f_) != static_cast<size_t>(n))
    failed("cannot write", errno);
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0) failed("cannot write", errno);
  std::FILE* f = f_;
  f_ = nullptr;
  if (std::fclose(f) != 0) failed("cannot write", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) failed("cannot replace", errno);
  done_ = true;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

}  // namespace tinyr2::io
