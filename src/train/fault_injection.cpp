#include "train/fault_injection.h"

#include <csignal>
#include <cstdio>
#include <string>

namespace tinyr2::train {

std::function<void(const char* stage)> FaultInjection::checkpoint_hook(int64_t step) const {
  if (kill_in_checkpoint != step) return {};  // steps are ≥ 1: off when < 0
  return [](const char* stage) {
    if (std::string(stage) == "optimizer") std::raise(SIGKILL);
  };
}

void FaultInjection::stop_if_due(int64_t step) const {
  if (stop_after != step) return;  // steps are ≥ 1: off when < 0
  std::fflush(stdout);
  std::raise(SIGKILL);  // die like a killed process, no clean-up
}

}  // namespace tinyr2::train
