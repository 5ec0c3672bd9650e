#include "train/run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/error.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;

constexpr const char* kLockFile = ".lock";

// The entries of a run directory (checkpoint.h, metrics.h) and of a model directory.
constexpr const char* kOwnEntries[] = {
    "config.json", "model.safetensors", "metrics.jsonl", "loss.svg",
    "latest",      "checkpoints",       "best"};

bool is_temporary(const std::string& name) {
  return (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) || name == "best.old";
}

void remove_path(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) fail("{}: cannot remove: {}", p.string(), ec.message());
}

// What makes a non-empty DIR unsuitable for a new run, said with what to do instead.
[[noreturn]] void refuse_non_empty(const std::string& dir, const std::string& command) {
  const fs::path d(dir);
  std::error_code ec;
  if (command == "train" && fs::exists(d / "latest", ec))
    fail(
        "{}: already holds a training run; add --resume to continue it, --force to start over "
        "(deletes it), or choose another --out",
        dir);
  if (command == "train" && fs::exists(d / "metrics.jsonl", ec))
    fail(
        "{}: already holds a training run that stopped before its first checkpoint, so it cannot "
        "be resumed; add --force to start over (deletes it), or choose another --out",
        dir);
  if (fs::exists(d / "model.safetensors", ec))
    fail("{}: already holds a model; add --force to replace it, or choose another --out", dir);
  fail("{}: is not empty; add --force to write into it anyway, or choose another --out", dir);
}

}  // namespace

void sweep_temporaries(const std::string& run_dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec))
    if (is_temporary(e.path().filename().string())) remove_path(e.path());
  const fs::path checkpoints = fs::path(run_dir) / "checkpoints";
  for (const auto& e : fs::directory_iterator(checkpoints, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".tmp-", 0) == 0) remove_path(e.path());
    if (fs::is_directory(e.path()))  // a checkpoint's own trainer_state.json.tmp
      for (const auto& f : fs::directory_iterator(e.path(), ec))
        if (is_temporary(f.path().filename().string())) remove_path(f.path());
  }
}

OutputDirectory::OutputDirectory(std::string dir, Mode mode, int fd, bool created)
    : dir_(std::move(dir)), mode_(mode), fd_(fd), created_(created) {}

OutputDirectory::OutputDirectory(OutputDirectory&& o) noexcept
    : dir_(std::move(o.dir_)),
      mode_(o.mode_),
      fd_(std::exchange(o.fd_, -1)),
      created_(std::exchange(o.created_, false)),
      keep_(o.keep_) {}

OutputDirectory::~OutputDirectory() {
  std::error_code ec;
  // Unlinking before unlocking is safe: a process that opened the file meanwhile finds, after
  // its flock, that the path names another inode (or none) and tries again (lock_file below).
  if (fd_ >= 0) fs::remove(fs::path(dir_) / kLockFile, ec);
  if (created_ && !keep_) fs::remove(dir_, ec);  // nothing was written: leave no trace
  if (fd_ >= 0) ::close(fd_);                    // releases the lock
}

namespace {

bool held_by_another(const fs::path& lock) {
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

[[noreturn]] void refuse_live(const std::string& dir) {
  fail(
      "{}: another tinyr2 process is writing to this directory (it holds {}/{}); wait for it to "
      "finish or choose another --out",
      dir, dir, kLockFile);
}

bool empty_apart_from_lock(const fs::path& d) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.path().filename() != kLockFile) return false;
  if (ec) fail("{}: cannot list: {}", d.string(), ec.message());
  return true;
}

// An exclusive lock on DIR/.lock, the file still linked there; fails if another holds it.
int lock_file(const std::string& dir) {
  const std::string lock = (fs::path(dir) / kLockFile).string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail("{}: cannot create the lock file: {}", lock, std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) refuse_live(dir);
      fail("{}: cannot lock: {}", lock, std::strerror(err));
    }
    struct stat held {
    }, now{};
    if (::fstat(fd, &held) == 0 && ::stat(lock.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev)
      return fd;
    ::close(fd);  // its holder unlinked it as we opened it: take the new one
  }
  fail("{}: cannot lock: the lock file keeps changing", lock);
}

}  // namespace

OutputDirectory OutputDirectory::claim(const std::string& dir, Mode mode,
                                       const std::string& command) {
  const fs::path d(dir);
  std::error_code ec;
  const fs::file_status st = fs::status(d, ec);
  const bool exists = fs::exists(st);
  if (exists && !fs::is_directory(st))
    fail("{}: exists and is not a directory; choose another --out", dir);
  if (!exists && mode == Mode::Resume)
    fail("{}: no checkpoint to resume from (the directory does not exist)", dir);
  // Refused before anything is created, so that the directory is left exactly as it was.
  if (exists && held_by_another(d / kLockFile)) refuse_live(dir);
  if (exists && mode == Mode::New && !empty_apart_from_lock(d)) refuse_non_empty(dir, command);
  if (!exists) {
    fs::create_directories(d, ec);
    if (ec) fail("{}: cannot create directory: {}", dir, ec.message());
  }
  OutputDirectory out(dir, mode, -1, !exists);
  out.fd_ = lock_file(dir);
  if (mode == Mode::New && !empty_apart_from_lock(d)) refuse_non_empty(dir, command);
  if (mode == Mode::Resume) sweep_temporaries(dir);
  return out;
}

void OutputDirectory::discard() {
  std::error_code ec;
  for (const char* name : kOwnEntries) fs::remove_all(fs::path(dir_) / name, ec);
  sweep_temporaries(dir_);
  keep_ = false;  // the destructor removes a directory claim() created, once empty
}

void OutputDirectory::start_fresh() {
  keep_ = true;
  if (mode_ != Mode::Overwrite) return;
  for (const char* name : kOwnEntries) remove_path(fs::path(dir_) / name);
  sweep_temporaries(dir_);
}

}  // namespace tinyr2::train
