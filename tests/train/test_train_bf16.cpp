// train.precision "bf16" end to end (SPEC §13), through the `tinyr2` binary:
//   - a bf16 run killed after step 3 and resumed from its step-2 checkpoint matches the
//     uninterrupted bf16 run bit for bit (metrics and final weights);
//   - the products really are bf16: the run's losses differ from the fp32 run's, a little;
//   - with TINYR2_ISA=avx512 (no AVX512_BF16) it still runs and says once that it is
//     emulated, and its first loss matches the native run's closely.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "train_test_util.h"

namespace tinyr2::train {

namespace {

using testing::deterministic_metrics;
using testing::lines_of;
using testing::read_file;
using testing::RunResult;

class TrainBf16 : public testing::TrainCliSuite<TrainBf16> {
 protected:
  static void SetUpTestSuite() {
    open_scratch("bf16", 12,
                 testing::small_train_config(
                     R"({"batch_size": 2, "max_iters": 4, "warmup_iters": 1, "eval_interval": 2,
                         "eval_iters": 1, "checkpoint_interval": 2, "keep_checkpoints": 2,
                         "val_fraction": 0.2, "lr": 3e-3, "precision": "bf16"})"));
  }
};

double first_loss(const std::string& run) {
  return nlohmann::json::parse(lines_of(read_file(run + "/metrics.jsonl")).at(0)).at("loss");
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(TrainBf16, KilledAndResumedRunIsBitExactAndDiffersFromFp32) {
  const RunResult straight = cli(train_args("straight"));
  ASSERT_EQ(straight.status, 0) << straight.err;
  EXPECT_EQ(count_of(straight.out, "precision: bf16"), 1u) << straight.out;

  const RunResult killed = cli(train_args("resumed", "--stop-after 3"));
  EXPECT_EQ(killed.signal, SIGKILL) << "status " << killed.status << ": " << killed.err;
  const RunResult resumed = cli(fmt::format("train --out {} --resume", path("resumed")));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(deterministic_metrics(path("resumed")), deterministic_metrics(path("straight")));
  EXPECT_TRUE(read_file(path("resumed") + "/checkpoints/step-00000004/model.safetensors") ==
              read_file(path("straight") + "/checkpoints/step-00000004/model.safetensors"))
      << "the resumed bf16 run's final weights differ from the uninterrupted run's";

  // The same run in fp32: the same first loss up to bf16 rounding, but not the same bits.
  const RunResult fp32 = cli(train_args("fp32", "--set train.precision=fp32"));
  ASSERT_EQ(fp32.status, 0) << fp32.err;
  EXPECT_EQ(fp32.out.find("precision:"), std::string::npos) << fp32.out;
  const double a = first_loss(path("straight")), b = first_loss(path("fp32"));
  EXPECT_NE(a, b) << "the bf16 run computed exactly the fp32 losses";
  EXPECT_NEAR(a, b, 0.02 * b);
}

TEST_F(TrainBf16, WithoutNativeBf16ItRunsEmulatedAndSaysSoOnce) {
  const RunResult r =
      cli(train_args("emulated", "--set train.max_iters=1 --set train.eval_interval=1"),
          "TINYR2_ISA=avx512");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_of(r.out, "EMULATED"), 1u) << r.out;
  if (!cpu::cpu_features().avx512_bf16) return;  // nothing native to compare with
  const RunResult n =
      cli(train_args("native", "--set train.max_iters=1 --set train.eval_interval=1"));
  ASSERT_EQ(n.status, 0) << n.err;
  EXPECT_EQ(count_of(n.out, "EMULATED"), 0u) << n.out;
  // The same products, summed in another order: equal to fp32-accumulation accuracy.
  EXPECT_NEAR(first_loss(path("emulated")), first_loss(path("native")), 1e-4);
}

}  // namespace

}  // namespace tinyr2::train
