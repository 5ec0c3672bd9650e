// Output directories that a command writes (`train --out`, `init --out`): never destroy a
// user's data, and one writer at a time (issue 19).
//
//   OutputDirectory dir = OutputDirectory::claim(out, OutputDirectory::Mode::New, "train");
//   ... everything that can fail on bad input ...
//   dir.start_fresh();   // Mode::Overwrite (--force) clears the old run's files only now
//
// claim() creates DIR if needed and takes an exclusive flock(2) on DIR/.lock, held until the
// object is destroyed (the process exits): a second writer — another `train`, a `--resume`
// beside a live run, an `init --force` onto it — gets one clear line instead. Then:
//   Mode::New       DIR must be empty (apart from .lock); a run in it is named as such, with
//                   how to continue (--resume) or start over (--force).
//   Mode::Overwrite DIR may hold anything; start_fresh() removes what a run or a model
//                   directory consists of (never other files).
//   Mode::Resume    DIR must exist; leftover temporaries of an interrupted write (*.tmp,
//                   best.tmp/, best.old/, checkpoints/.tmp-*) are swept.
// A failure before anything was written leaves an existing DIR as it was (a DIR made by
// claim() is removed again when the object is destroyed without start_fresh()/written()).
#pragma once

#include <string>

namespace tinyr2::train {

class OutputDirectory {
 public:
  enum class Mode { New, Overwrite, Resume };

  // `command` names the caller in messages ("train", "init").
  static OutputDirectory claim(const std::string& dir, Mode mode, const std::string& command);

  OutputDirectory(OutputDirectory&& other) noexcept;
  OutputDirectory& operator=(OutputDirectory&&) = delete;
  OutputDirectory(const OutputDirectory&) = delete;
  ~OutputDirectory();

  // Mode::Overwrite: removes the previous run's / model's files. Marks the directory as in use
  // (kept when this object goes away). Call once nothing can fail on the user's input any more.
  void start_fresh();
  // Marks the directory as in use without clearing anything (Mode::New, Mode::Resume).
  void written() { keep_ = true; }
  // After a failed write (disk full): removes what was written (the entries start_fresh()
  // clears) and, when claim() made the directory, the directory.
  void discard();

  const std::string& path() const { return dir_; }

 private:
  OutputDirectory(std::string dir, Mode mode, int fd, bool created);
  std::string dir_;
  Mode mode_;
  int fd_ = -1;
  bool created_ = false, keep_ = false;
};

// Removes the temporaries an interrupted write leaves in a run directory (see above).
void sweep_temporaries(const std::string& run_dir);

}  // namespace tinyr2::train
