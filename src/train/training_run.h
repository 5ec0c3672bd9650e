// The `tinyr2 train` run around the training loop (SPEC §4, §5, §6): configuration and run
// directory, data, model and trainer (or a resumed checkpoint), then steps with evaluation
// and checkpoints, printing progress to stdout. The loop itself is train::Trainer.
#pragma once

#include <string>
#include <vector>

#include "train/fault_injection.h"

namespace tinyr2::train {

struct TrainOptions {
  std::string config;             // config file; with --resume defaults to OUT/config.json
  std::vector<std::string> data;  // sources; with --resume default to the checkpoint's
  std::string glob;               // file-name filter for directory sources ("" = all)
  std::string out;                // run directory (default runs/<config file stem>)
  std::vector<std::string> sets;  // --set KEY=VALUE overrides
  bool resume = false;
  bool force = false;  // --force: start over in a non-empty --out (run_directory.h)
  // Data-parallel runs (SPEC §15): post gradient buckets during backward (false: after it,
  // to measure how much of the all-reduce time the overlap hides; hidden flag).
  bool dp_overlap = true;
  // Without ZeRO: share Muon's Newton–Schulz across the ranks (false: every rank runs the
  // whole optimizer step, to measure and to test; hidden flag; train/distributed_optim.h).
  bool dp_shard = true;
  FaultInjection faults;  // the hidden test flags (fault_injection.h); off by default
};

// Runs (or resumes) training to max_iters, printing progress to stdout. Returns the exit
// status (0); user errors throw tinyr2::Error (the CLI prints one line and exits 1).
// Under mpirun (train/distributed.h) every rank runs this; rank 0 prints and writes the run
// directory; an error on any rank prints one line ("error: [rank r of P] ...") and ends
// every rank (exit status 1).
int run_training(const TrainOptions& options);

}  // namespace tinyr2::train
