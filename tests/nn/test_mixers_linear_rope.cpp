// RoPE positions and NTK scaling (SPEC §10 pos_embedding, rope_scaling, --ctx):
//   - the NTK base θ·s^(D/(D−2)) against SPEC's worked example (θ 10000, D 128, s 4 → 40890);
//   - config errors name the key (odd head size for RoPE, rope_scaling < 1);
//   - `--ctx N` beyond ctx_len: the NTK scale max(rope_scaling, N/ctx_len) for RoPE models,
//     a one-line error for learned positions; a RoPE model has no position table;
//   - a RoPE model trained at ctx 128 evaluates at 512 (NTK) with a finite loss close to its
//     loss at 128, through `tinyr2 train` / `tinyr2 eval --ctx` (exit 1 for a learned model).
// Parity of RoPE FULL / Sparse with the reference: tests/nn/test_model_parity.cpp (Rope/…).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/core.h>

#include "../train/train_test_util.h"  // write_corpus
#include "core/error.h"
#include "nn/model.h"
#include "nn/rope_positions.h"
#include "support/cli.h"
#include "support/error_of.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

using tinyr2::testing::error_of;
using tinyr2::testing::small_model_config;
}  // namespace

TEST(RopePositions, NtkBaseMatchesTheSpecExample) {
  ModelConfig c;
  c.rope_theta = 10000.0;
  c.rope_scaling = 4.0;
  // SPEC §10 (seed 003): θ 10000, D 128, s 4 → 40890.
  EXPECT_NEAR(rope_base(c, 128), 40890.0, 0.5);
  c.rope_scaling = 1.0;
  EXPECT_EQ(rope_base(c, 64), 10000.0);
}

TEST(RopePositions, ConfigErrorsNameTheKey) {
  EXPECT_NE(error_of([] {
              small_model_config(R"({"pos_embedding": "rope", "n_embd": 30, "n_head": 2})");
            }).find("pos_embedding"),
            std::string::npos);
  EXPECT_NE(error_of([] { small_model_config(R"({"rope_scaling": 0.5})"); }).find("rope_scaling"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { small_model_config(R"({"pos_embedding": "alibi"})"); }).find("pos_embedding"),
      std::string::npos);
  // Learned (the default) keeps odd head sizes legal: no RoPE on FULL heads.
  EXPECT_NO_THROW(small_model_config(R"({"n_embd": 30, "n_head": 2})"));
}

TEST(RopePositions, RopeModelHasNoPositionTable) {
  const Model rope(small_model_config(R"({"pos_embedding": "rope"})"));
  const Model learned(small_model_config("{}"));
  EXPECT_FALSE(rope.position_embedding.defined());
  EXPECT_EQ(learned.num_params() - rope.num_params(), 128 * 32);  // ctx_len × n_embd
  EXPECT_EQ(rope.cfg.to_json()["pos_embedding"], "rope");
}

TEST(RopePositions, ContextLimitScalesRopeAndRefusesLearnedPositions) {
  const ModelConfig rope = small_model_config(R"({"pos_embedding": "rope", "rope_scaling": 1.5})");
  const ModelConfig at512 = with_context_limit(rope, 512);
  EXPECT_EQ(at512.ctx_len, 512);
  EXPECT_DOUBLE_EQ(at512.rope_scaling, 4.0);  // max(1.5, 512/128)
  const ModelConfig at160 = with_context_limit(rope, 160);
  EXPECT_DOUBLE_EQ(at160.rope_scaling, 1.5);  // max(1.5, 1.25)
  const ModelConfig at64 = with_context_limit(rope, 64);
  EXPECT_EQ(at64.ctx_len, 64);
  EXPECT_DOUBLE_EQ(at64.rope_scaling, 1.5);
  const std::string e = error_of([] { with_context_limit(small_model_config("{}"), 512); });
  EXPECT_NE(e.find("learned"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_EQ(with_context_limit(small_model_config("{}"), 64).ctx_len, 64);
}

namespace {

// The number after the first "loss " that starts one (nan and inf too), NAN when none.
// (No <regex>: g++ 12 warns inside it under the sanitizer build's -Werror.)
double eval_loss(const std::string& out) {
  for (size_t at = out.find("loss "); at != std::string::npos; at = out.find("loss ", at + 1)) {
    const char* begin = out.c_str() + at + 5;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end != begin) return v;
  }
  return NAN;
}

}  // namespace

// SPEC §10: a model trained at ctx 128 evaluates at 512 with NTK scaling.
TEST(RopePositions, TrainedAt128EvaluatesAt512WithNtk) {
  using tinyr2::testing::run_cli;
  tinyr2::testing::TempDir tmp("rope_ctx");
  train::testing::write_corpus(tmp / "corpus", 16);
  const std::string cfg = R"({
    "vocab_size": 50257, "ctx_len": 128, "n_embd": 32, "n_head": 2, "n_layer": 1,
    "attention_types": ["FULL"], "types": ["mlp"], "hc": false, "pos_embedding": "rope",
    "train": {"batch_size": 2, "max_iters": 10, "warmup_iters": 2, "eval_interval": 10,
              "eval_iters": 1, "checkpoint_interval": 10, "val_fraction": 0.2, "lr": 1e-2}
  })";
  tinyr2::testing::write_file(tmp / "rope.json", cfg);
  auto cli = [&](const std::string& args) { return run_cli("-t 2 " + args, tmp.path().string()); };
  auto r = cli(fmt::format("train --config {} --data {} --out {}", tmp / "rope.json",
                           tmp / "corpus", tmp / "run"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string eval = fmt::format("eval -m {} --data {} --batches 1 --batch-size 1",
                                       tmp / "run/best", tmp / "corpus");
  r = cli(eval);
  ASSERT_EQ(r.status, 0) << r.err;
  const double at128 = eval_loss(r.out);
  r = cli(eval + " --ctx 512");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("× 512 ="), std::string::npos) << r.out;
  const double at512 = eval_loss(r.out);
  ASSERT_TRUE(std::isfinite(at128) && std::isfinite(at512)) << at128 << " " << at512;
  // Trained: far below the uniform ln V = 10.8; NTK-scaled at 4× the context it stays close.
  EXPECT_LT(at128, 8.0);
  EXPECT_LT(at512, at128 + 1.0) << "at 128: " << at128 << ", at 512: " << at512;
  RecordProperty("loss_at_128", fmt::format("{:.4f}", at128));
  RecordProperty("loss_at_512", fmt::format("{:.4f}", at512));

  // A learned-position model refuses --ctx beyond ctx_len: one line, exit 1.
  nn::Model learned(small_model_config(R"({"vocab_size": 50257})"));
  learned.init(3);
  learned.save(tmp / "learned");
  r = cli(fmt::format("eval -m {} --data {} --ctx 512", tmp / "learned", tmp / "corpus"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("learned"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace tinyr2::nn
