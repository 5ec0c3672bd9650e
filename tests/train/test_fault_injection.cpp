// train::FaultInjection, the test hooks of a training run (src/train/fault_injection.h): each
// is off by default and fires at its step only (NaN from step N on; SIGKILL after step N;
// SIGKILL after the "optimizer" stage of step N's checkpoint). The end-to-end effects are
// in test_train_cli.cpp.
#include <gtest/gtest.h>

#include <csignal>

#include "train/fault_injection.h"

namespace tinyr2::train {
namespace {

TEST(FaultInjection, OffByDefault) {
  const FaultInjection f;
  for (int64_t step = 0; step <= 5; ++step) {
    EXPECT_FALSE(f.poisons(step)) << step;
    EXPECT_FALSE(f.checkpoint_hook(step)) << step;
    f.stop_if_due(step);  // returns
  }
}

TEST(FaultInjection, NanFromPoisonsThatStepAndEveryLaterOne) {
  FaultInjection f;
  f.nan_from = 3;
  EXPECT_FALSE(f.poisons(1));
  EXPECT_FALSE(f.poisons(2));
  EXPECT_TRUE(f.poisons(3));
  EXPECT_TRUE(f.poisons(4));
  EXPECT_TRUE(f.poisons(100));
}

TEST(FaultInjection, CheckpointHookOnlyForItsStep) {
  FaultInjection f;
  f.kill_in_checkpoint = 4;
  EXPECT_FALSE(f.checkpoint_hook(2));
  EXPECT_FALSE(f.checkpoint_hook(6));
  const auto hook = f.checkpoint_hook(4);
  ASSERT_TRUE(hook);
  hook("model");  // returns: only the "optimizer" stage kills
  EXPECT_EXIT(hook("optimizer"), ::testing::KilledBySignal(SIGKILL), "");
}

TEST(FaultInjection, StopAfterKillsAtItsStepOnly) {
  FaultInjection f;
  f.stop_after = 5;
  f.stop_if_due(4);  // returns
  f.stop_if_due(6);
  EXPECT_EXIT(f.stop_if_due(5), ::testing::KilledBySignal(SIGKILL), "");
}

}  // namespace
}  // namespace tinyr2::train
