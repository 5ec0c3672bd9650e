// Data-parallel training under mpirun (SPEC §15, src/train/distributed.h), on token shards
// of a closed-form token stream and a small model (vocab 512):
//   - 2 ranks × batch 4 give the losses and parameters of 1 process × batch 8 over 20 steps
//     (within 1e-5; gate noise, dropout and the balance term off: SPEC §15 exempts L_bal,
//     and the noise of a rank's half-batch is drawn from its own stream);
//   - the sharded optimizer steps (Newton–Schulz shared, ZeRO-1) give what every rank
//     running the whole step gives, bit for bit;
//   - SIGKILL of one rank stops every rank (mpirun returns, at most one "error:" line), the
//     last checkpoint loads, and --resume under mpirun finishes the run;
//   - a parameter corrupted on one rank is detected by the hash check.
// Skipped, with the reason, when the binary was built without MPI or mpirun is missing.
// Open MPI leaks at exit: the ranks run with ASAN_OPTIONS=detect_leaks=0 (sanitizer pass).
// Shared-memory transfers use copies, not CMA (ptrace), which containers often forbid.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "data/token_shards.h"
#include "nn/model.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train_test_util.h"

namespace tinyr2::train {

namespace {

using testing::lines_of;
using testing::read_file;
using testing::run_cli;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// "" when the ranks can run, else why not.
std::string why_no_mpi() {
  if (mpi_support() == "no") return "this build has no MPI (libopenmpi-dev not found by CMake)";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) return "mpirun is not installed";
  return "";
}

class Distributed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir("dist");
    write_file(*tmp_ / "config.json",
               testing::small_train_config(
                   R"({"batch_size": 4, "max_iters": 20, "warmup_iters": 2, "eval_interval": 10,
                       "eval_iters": 3, "checkpoint_interval": 5, "keep_checkpoints": 2,
                       "lr": 3e-3})",
                   R"({"vocab_size": 512, "dropout": 0.0, "gate_noise": 0.0,
                       "moe_balance_coef": 0.0})"));
    data::ShardWriter train(*tmp_ / "shards", "train", 20000), val(*tmp_ / "shards", "val");
    Rng rng(7);
    std::vector<int32_t> t(50000);
    for (auto& x : t) x = static_cast<int32_t>(rng.next_below(64) * 8 % 512);
    train.append(t.data(), 40000);
    val.append(t.data() + 40000, 10000);
    train.finish();
    val.finish();
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    const std::string why = why_no_mpi();
    if (!why.empty()) GTEST_SKIP() << why;
  }
  static std::string path(const std::string& rel) { return *tmp_ / rel; }

  // `tinyr2 -t 1 train` on the shards into OUT, in one process (np = 0) or np ranks.
  static RunResult train(int np, const std::string& out, const std::string& extra = "") {
    const std::string args = fmt::format("-t 1 train --config {} --data {} --out {} {}",
                                         path("config.json"), path("shards"), path(out), extra);
    if (np == 0) return run_cli(args, path("scratch_" + out));
    const std::string launcher = fmt::format(
        "ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun -np {} "
        "--oversubscribe {}-x ASAN_OPTIONS",
        np, ::geteuid() == 0 ? "--allow-run-as-root " : "");
    return run_cli(args, path("scratch_" + out), launcher);
  }

  static TempDir* tmp_;
};

TempDir* Distributed::tmp_ = nullptr;

std::vector<nlohmann::json> train_records(const std::string& run) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(read_file(run + "/metrics.jsonl"))) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j);
  }
  return out;
}

void expect_same_run(const std::string& a, const std::string& b, double tol) {
  const auto ra = train_records(a), rb = train_records(b);
  ASSERT_EQ(ra.size(), 20u);
  ASSERT_EQ(rb.size(), 20u);
  for (size_t i = 0; i < ra.size(); ++i) {
    const double la = ra[i]["loss"], lb = rb[i]["loss"];
    EXPECT_LE(std::abs(la - lb), tol * std::abs(la))
        << "step " << i + 1 << ": " << la << " vs " << lb;
  }
  const auto ma = nn::Model::load(a + "/checkpoints/step-00000020");
  const auto mb = nn::Model::load(b + "/checkpoints/step-00000020");
  const auto& pa = ma->params.all();
  const auto& pb = mb->params.all();
  ASSERT_EQ(pa.size(), pb.size());
  double worst = 0;
  std::string where;
  for (size_t i = 0; i < pa.size(); ++i) {
    const float* x = pa[i].tensor.data();
    const float* y = pb[i].tensor.data();
    for (int64_t j = 0; j < pa[i].tensor.numel(); ++j) {
      const double d = std::abs(double{x[j]} - y[j]);
      if (d > worst) worst = d, where = pa[i].name;
    }
  }
  EXPECT_LE(worst, tol) << "largest parameter difference in " << where;
}

}  // namespace

TEST_F(Distributed, TwoRanksOfFourEqualOneProcessOfEight) {
  const RunResult one = train(0, "one", "--set train.batch_size=8");
  ASSERT_EQ(one.status, 0) << one.err;
  const RunResult two = train(2, "two");
  ASSERT_EQ(two.status, 0) << two.out << two.err;
  EXPECT_NE(two.out.find("data-parallel: 2 ranks"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("buckets posted during backward"), std::string::npos);
  expect_same_run(path("one"), path("two"), 1e-5);
}

// Each tensor's update is the same arithmetic on whichever rank runs it, so sharing the
// optimizer step (distributed_optim.h) changes no bit: Newton–Schulz sharded with the state
// replicated (the default), and ZeRO-1, against every rank running the whole step.
TEST_F(Distributed, ShardedOptimizerStepsEqualTheReplicatedOneBitForBit) {
  const RunResult rep = train(2, "rep", "--dp-no-shard");
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_NE(rep.out.find("optimizer state and updates replicated"), std::string::npos) << rep.out;
  const RunResult ns = train(2, "ns");
  ASSERT_EQ(ns.status, 0) << ns.out << ns.err;
  EXPECT_NE(ns.out.find("Newton–Schulz sharded"), std::string::npos) << ns.out;
  expect_same_run(path("rep"), path("ns"), 0.0);
  const RunResult zero = train(2, "zero", "--set train.zero=1");
  ASSERT_EQ(zero.status, 0) << zero.out << zero.err;
  EXPECT_NE(zero.out.find("ZeRO-1"), std::string::npos) << zero.out;
  expect_same_run(path("rep"), path("zero"), 0.0);
  // The checkpoints hold the whole optimizer state (ZeRO-1: gathered on rank 0), the same.
  const Checkpoint a = load_latest_checkpoint(path("rep"));
  for (const char* run : {"ns", "zero"}) {
    const Checkpoint b = load_latest_checkpoint(path(run));
    ASSERT_EQ(a.optimizer_state.size(), b.optimizer_state.size()) << run;
    for (const auto& [key, t] : a.optimizer_state) {
      const Tensor& u = b.optimizer_state.at(key);
      ASSERT_EQ(t.shape(), u.shape()) << run << " " << key;
      EXPECT_EQ(std::memcmp(t.data(), u.data(), static_cast<size_t>(t.numel()) * sizeof(float)), 0)
          << run << " " << key;
    }
  }
}

TEST_F(Distributed, KilledRankStopsAllAndTheRunResumes) {
  const RunResult r = train(2, "kill", "--set train.zero=1 --stop-after 7 --test-kill-rank 1");
  EXPECT_NE(r.status, 0);
  const auto err = lines_of(r.err);
  EXPECT_LE(std::count_if(err.begin(), err.end(),
                          [](const std::string& l) { return l.rfind("error:", 0) == 0; }),
            1)
      << r.err;
  const Checkpoint c = load_latest_checkpoint(path("kill"));  // complete and loadable
  EXPECT_GE(c.state.step, 5);
  const RunResult resumed = train(2, "kill", "--resume");
  ASSERT_EQ(resumed.status, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("resumed from"), std::string::npos);
  EXPECT_EQ(load_latest_checkpoint(path("kill")).state.step, 20);
  EXPECT_EQ(train_records(path("kill")).size(), 20u);
}

TEST_F(Distributed, CorruptedRankIsDetected) {
  const RunResult r = train(2, "corrupt", "--test-corrupt-rank 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("ranks disagree on the parameters after init: rank(s) 1 differ"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(path("corrupt/latest")));
}

}  // namespace tinyr2::train
