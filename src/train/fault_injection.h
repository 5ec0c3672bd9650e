// Fault injection for the tests of a training run (tests/train): the hidden `tinyr2 train`
// flags set it, nothing else does. Each hook is off while its step is < 0.
//
//   --test-nan-from N            nan_from: the loss of every step ≥ N is replaced by NaN
//                                before backward (non-finite step handling, SPEC §6).
//   --stop-after N               stop_after: right after step N (its eval and checkpoint
//                                done) the process sends itself SIGKILL: an abrupt death
//                                with no clean-up (bit-exact resume, SPEC §4).
//   --test-kill-in-checkpoint N  kill_in_checkpoint: SIGKILL midway through writing step N's
//                                checkpoint: after the model and the optimizer state, before
//                                trainer_state.json and the rename (atomicity, SPEC §4).
//   --test-kill-rank R           kill_rank: under mpirun, --stop-after kills rank R only
//                                (a failing rank stops every rank, SPEC §15).
//   --test-corrupt-rank R        corrupt_rank: rank R adds 1e-3 to one parameter after
//                                loading (the ranks' hash check must catch it, SPEC §15).
#pragma once

#include <cstdint>
#include <functional>

namespace tinyr2::train {

struct FaultInjection {
  int64_t nan_from = -1;
  int64_t stop_after = -1;
  int64_t kill_in_checkpoint = -1;
  int64_t kill_rank = -1;
  int64_t corrupt_rank = -1;

  // Whether the loss of `step` (1-based) is to be NaN.
  bool poisons(int64_t step) const { return nan_from >= 0 && step >= nan_from; }

  // The hook write_checkpoint calls after each stage of step `step`'s checkpoint (a
  // train::CheckpointHook): SIGKILL after the "optimizer" stage when kill_in_checkpoint ==
  // step, else empty.
  std::function<void(const char* stage)> checkpoint_hook(int64_t step) const;

  // SIGKILL (stdout flushed first) when stop_after == step; returns otherwise.
  void stop_if_due(int64_t step) const;
};

}  // namespace tinyr2::train
