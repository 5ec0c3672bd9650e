// The "train" section (SPEC §6): defaults, strict parsing with errors naming train.<key>,
// and --set overrides (JSON values, string fallback, model and train keys).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/error.h"
#include "train/train_config.h"
#include "train_test_util.h"

namespace tinyr2::train {

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TrainConfig parse(const std::string& text) {
  return TrainConfig::from_json(nlohmann::json::parse(text));
}

}  // namespace

TEST(TrainConfig, DefaultsAreTheSpecs) {
  const TrainConfig c = parse("{}");
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(c.grad_accum, 1);
  EXPECT_EQ(c.max_iters, 200);
  EXPECT_EQ(c.warmup_iters, 20);
  EXPECT_EQ(c.lr, 1e-3);
  EXPECT_EQ(c.min_lr, 1e-4);
  EXPECT_EQ(c.muon_lr, 0.02);
  EXPECT_EQ(c.muon_momentum, 0.95);
  EXPECT_EQ(c.muon_weight_decay, 0.0);
  EXPECT_EQ(c.weight_decay, 0.1);
  EXPECT_EQ(c.betas[0], 0.9);
  EXPECT_EQ(c.betas[1], 0.95);
  EXPECT_EQ(c.eps, 1e-8);
  EXPECT_EQ(c.max_grad_norm, 1.0);
  EXPECT_EQ(c.eval_interval, 50);
  EXPECT_EQ(c.eval_iters, 10);
  EXPECT_EQ(c.checkpoint_interval, 50);
  EXPECT_EQ(c.val_fraction, 0.05);
  EXPECT_EQ(c.seed, 1337);
  EXPECT_EQ(c.keep_checkpoints, 3);
  EXPECT_EQ(c.precision, "fp32");
  EXPECT_EQ(c.zero, 0);  // SPEC §15: ZeRO-1 off
  // to_json round-trips every key.
  const TrainConfig back = TrainConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(c.to_json().size(), 21u);
  EXPECT_EQ(parse(R"({"precision": "bf16"})").precision, "bf16");
}

TEST(TrainConfig, ErrorsNameTheKey) {
  struct Bad {
    std::string json, needle;
  };
  const std::vector<Bad> cases = {
      {R"({"bogus": 1})", "train.bogus: unknown key"},
      {R"({"batch_size": 0})", "train.batch_size"},
      {R"({"batch_size": 2.5})", "train.batch_size must be an integer"},
      {R"({"max_iters": "10"})", "train.max_iters must be an integer"},
      {R"({"lr": -1})", "train.lr"},
      {R"({"lr": true})", "train.lr must be a number"},
      {R"({"muon_momentum": 1.0})", "train.muon_momentum"},
      {R"({"betas": [0.9]})", "train.betas"},
      {R"({"betas": [0.9, 1.0]})", "train.betas"},
      {R"({"eps": 0})", "train.eps"},
      {R"({"val_fraction": 1})", "train.val_fraction"},
      {R"({"seed": -3})", "train.seed"},
      {R"({"keep_checkpoints": 0})", "train.keep_checkpoints"},
      {R"({"eval_interval": 0})", "train.eval_interval"},
      // SPEC §13: the bad value is named, with the allowed ones.
      {R"({"precision": "fp16"})",
       "train.precision must be one of \"fp32\", \"bf16\", got \"fp16\""},
      {R"({"precision": 16})", "train.precision"},
      {R"({"zero": 2})", "train.zero"},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of([&] { parse(c.json); });
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.json << " said: " << msg;
  }
  EXPECT_NE(error_of([] { TrainConfig::from_json(nlohmann::json::array()); }).find("train"),
            std::string::npos);
}

TEST(TrainConfig, OverridesAreJsonWithStringFallback) {
  nlohmann::json j = nlohmann::json::parse(R"({"n_embd": 64, "train": {"lr": 0.5}})");
  apply_override(j, "train.lr=3e-3");
  apply_override(j, "train.max_iters=7");
  apply_override(j, "n_layer=2");
  apply_override(j, "branch_gate=sigmoid");         // not JSON: a string
  apply_override(j, "attention_types=[\"FULL\"]");  // a JSON list
  apply_override(j, "hc=false");
  EXPECT_EQ(j["train"]["lr"], 3e-3);
  EXPECT_EQ(j["train"]["max_iters"], 7);
  EXPECT_EQ(j["n_layer"], 2);
  EXPECT_EQ(j["branch_gate"], "sigmoid");
  EXPECT_EQ(j["attention_types"], nlohmann::json::parse(R"(["FULL"])"));
  EXPECT_EQ(j["hc"], false);

  const RunConfig rc = RunConfig::from_json(j);
  EXPECT_EQ(rc.train.lr, 3e-3);
  EXPECT_EQ(rc.train.max_iters, 7);
  EXPECT_EQ(rc.model.n_layer, 2);
  EXPECT_FALSE(rc.model.hc);
  // The resolved config holds every model key and every train key, and reads back the same.
  const nlohmann::json resolved = rc.to_json();
  EXPECT_EQ(resolved["train"].size(), 21u);
  EXPECT_EQ(RunConfig::from_json(resolved).to_json(), resolved);

  // An override into a file without a train section creates it.
  nlohmann::json k = nlohmann::json::object();
  apply_override(k, "train.batch_size=3");
  EXPECT_EQ(RunConfig::from_json(k).train.batch_size, 3);

  EXPECT_NE(error_of([&] { apply_override(j, "no_equals_sign"); }).find("KEY=VALUE"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(j, "=3"); }).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(j, "model.n_embd=3"); }).find("model.n_embd"),
            std::string::npos);
  // Unknown keys set by --set are rejected by validation, named.
  apply_override(j, "train.nonsense=1");
  EXPECT_NE(error_of([&] { RunConfig::from_json(j); }).find("train.nonsense"), std::string::npos);
}

TEST(TrainConfig, FileErrorsNameTheFile) {
  testing::TempDir dir("config_file");
  const std::string bad = dir / "bad.json", unknown = dir / "unknown.json";
  testing::write_file(bad, "{\"n_embd\": 64,,}");
  testing::write_file(unknown, R"({"n_embd": 64, "n_head": 4, "colour": "red"})");
  std::string msg = error_of([&] { load_run_config(bad); });
  EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
  msg = error_of([&] { load_run_config(unknown); });
  EXPECT_NE(msg.find("colour"), std::string::npos) << msg;
  msg = error_of([&] { load_run_config(dir / "missing.json"); });
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
  msg = error_of([&] { load_run_config(unknown, {"colour=1"}); });  // still unknown
  EXPECT_NE(msg.find("colour"), std::string::npos) << msg;
}

}  // namespace tinyr2::train
