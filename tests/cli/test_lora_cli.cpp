// LoRA through the binary (SPEC §12): `train --init-from BASE --lora-rank r` writes PEFT
// adapter files in its checkpoints and best/, leaves no base weights there, resumes
// bit-exactly; `--lora DIR` on logits / eval / generate; `merge` gives a plain model whose
// logits equal base + adapter at run time (1e-5); a wrong base (sha256), a missing or
// misshapen adapter tensor and a bad adapter_config.json are one line, exit 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "../train/train_test_util.h"
#include "io/safetensors.h"
#include "support/op_case.h"

namespace tinyr2 {

namespace {

using train::testing::deterministic_metrics;
using train::testing::expect_one_line_error;
using train::testing::read_file;
using train::testing::write_file;
using RunResult = train::testing::RunResult;
namespace fs = std::filesystem;

class LoraCli : public train::testing::TrainCliSuite<LoraCli> {
 protected:
  static void SetUpTestSuite() {
    open_scratch("lora", 16,
                 train::testing::small_train_config(
                     R"({"batch_size": 2, "max_iters": 6, "warmup_iters": 1, "eval_interval": 3,
                         "eval_iters": 2, "checkpoint_interval": 2, "keep_checkpoints": 2,
                         "val_fraction": 0.2, "lr": 1e-2})",
                     R"({"dropout": 0.1, "gate_noise": 0.05})"));
    for (const char* name : {"base", "other"}) {
      const RunResult r = cli(fmt::format("init --config {} --out {} -s {}", path("config.json"),
                                          path(name), name[0] == 'b' ? 1 : 2));
      EXPECT_EQ(r.status, 0) << r.err;
    }
  }
  // train_args of a LoRA run on the base model.
  static std::string train_args(const std::string& out, const std::string& extra = "") {
    return fmt::format(
        "train --config {} --data {} --out {} --init-from {} --lora-rank 4 --lora-alpha 8 "
        "--lora-dropout 0.1 {}",
        path("config.json"), path("corpus"), path(out), path("base"), extra);
  }
  // The uninterrupted LoRA run, once for the suite.
  static const std::string& lora_run() {
    static const std::string out = [] {
      const RunResult r = cli(train_args("run"));
      EXPECT_EQ(r.status, 0) << r.out << r.err;
      return path("run");
    }();
    return out;
  }
  static Tensor logits(const std::string& model, const std::string& extra = "") {
    const std::string out = path("logits.safetensors");
    fs::remove(out);
    const RunResult r = cli(fmt::format(
        "logits -m {} --ids 5,17,9,300,12,7,1000,3,3,42 --out {} {}", model, out, extra));
    EXPECT_EQ(r.status, 0) << r.err;
    return io::load_safetensors(out).tensors.at("logits");
  }
};

}  // namespace

TEST_F(LoraCli, RunWritesPeftAdaptersAndNoBaseWeights) {
  const std::string run = lora_run();
  for (const std::string& dir : {run + "/best", run + "/checkpoints/step-00000006"}) {
    EXPECT_TRUE(fs::exists(dir + "/adapter_model.safetensors")) << dir;
    EXPECT_FALSE(fs::exists(dir + "/model.safetensors")) << dir;
    const nlohmann::json c = nlohmann::json::parse(read_file(dir + "/adapter_config.json"));
    EXPECT_EQ(c["peft_type"], "LORA");
    EXPECT_EQ(c["r"], 4);
    EXPECT_EQ(c["lora_alpha"], 8.0);
    EXPECT_EQ(c["lora_dropout"], 0.1);
    EXPECT_EQ(c["base_model_name_or_path"], path("base"));
    EXPECT_EQ(c["base_model_sha256"].get<std::string>().size(), 64u);
    const auto& targets = c["target_modules"];
    EXPECT_NE(std::find(targets.begin(), targets.end(), "blocks.0.attn.c_attn"), targets.end());
    EXPECT_EQ(std::find(targets.begin(), targets.end(), "blocks.1.ffn.gate"), targets.end());
    const io::SafetensorsData a = io::load_safetensors(dir + "/adapter_model.safetensors");
    EXPECT_EQ(a.tensors.size(), 2 * targets.size());
    const Tensor& B = a.tensors.at("base_model.model.blocks.0.attn.c_attn.lora_B.weight");
    EXPECT_EQ(B.shape(), (Shape{96, 4}));
    float bmax = 0;
    for (float v : B.to_vector()) bmax = std::max(bmax, std::abs(v));
    EXPECT_GT(bmax, 0.f) << "lora_B never moved from 0";
  }
  const std::string log = read_file(run + "/metrics.jsonl");
  EXPECT_NE(log.find("\"step\":6"), std::string::npos);
}

TEST_F(LoraCli, ResumeIsBitExact) {
  const std::string straight = lora_run();
  const RunResult killed = cli(train_args("resumed", "--stop-after 3"));
  EXPECT_NE(killed.status, 0);  // SIGKILL after step 3 (checkpoint at step 2)
  const RunResult resumed = cli(fmt::format("train --out {} --resume", path("resumed")));
  ASSERT_EQ(resumed.status, 0) << resumed.out << resumed.err;
  EXPECT_EQ(deterministic_metrics(path("resumed")), deterministic_metrics(straight));
  EXPECT_EQ(read_file(path("resumed") + "/checkpoints/step-00000006/adapter_model.safetensors"),
            read_file(straight + "/checkpoints/step-00000006/adapter_model.safetensors"));
}

TEST_F(LoraCli, MergedModelEqualsBasePlusAdapterAtRunTime) {
  const std::string adapter = lora_run() + "/best";
  const Tensor base = logits(path("base"));
  const Tensor with = logits(path("base"), "--lora " + adapter);
  const RunResult m =
      cli(fmt::format("merge -m {} --lora {} --out {}", path("base"), adapter, path("merged")));
  ASSERT_EQ(m.status, 0) << m.err;
  const Tensor merged = logits(path("merged"));
  EXPECT_LE(testing::relative_error(merged, with), 1e-5);
  EXPECT_GT(testing::relative_error(base, with), 1e-6);  // the adapter changes the model
  // A second merge onto the merged model is refused (no --force): nothing is overwritten.
  const std::string before = read_file(path("merged") + "/model.safetensors");
  expect_one_line_error(
      cli(fmt::format("merge -m {} --lora {} --out {}", path("base"), adapter, path("merged"))),
      "add --force", "merge onto a model");
  EXPECT_EQ(read_file(path("merged") + "/model.safetensors"), before);

  const RunResult e = cli(fmt::format("eval -m {} --lora {} --data {} --batches 1 --batch-size 2",
                                      path("base"), adapter, path("corpus")));
  EXPECT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("perplexity"), std::string::npos);
  const RunResult g =
      cli(fmt::format("generate -m {} --lora {} -p \"def\" -n 4 -s 1", path("base"), adapter));
  EXPECT_EQ(g.status, 0) << g.err;
}

TEST_F(LoraCli, BadAdaptersAreOneLineErrors) {
  const std::string adapter = lora_run() + "/best";
  const std::string ids = "--ids 1,2,3 --out " + path("x.safetensors");
  expect_one_line_error(cli(fmt::format("logits -m {} --lora {} {}", path("other"), adapter, ids)),
                        "another base model", "wrong base");
  expect_one_line_error(
      cli(fmt::format("logits -m {} --lora {} {}", path("base"), path("no_such_dir"), ids)),
      "not a LoRA adapter directory", "missing directory");

  auto copy_with = [&](const std::string& name,
                       const std::function<void(std::map<std::string, Tensor>&)>& change) {
    const std::string dir = path(name);
    fs::create_directories(dir);
    fs::copy_file(adapter + "/adapter_config.json", dir + "/adapter_config.json",
                  fs::copy_options::overwrite_existing);
    std::map<std::string, Tensor> t =
        io::load_safetensors(adapter + "/adapter_model.safetensors").tensors;
    change(t);
    io::save_safetensors(dir + "/adapter_model.safetensors", t);
    return dir;
  };
  const std::string a_name = "base_model.model.blocks.0.attn.c_attn.lora_A.weight";
  const std::string missing = copy_with("missing", [&](auto& t) { t.erase(a_name); });
  expect_one_line_error(cli(fmt::format("logits -m {} --lora {} {}", path("base"), missing, ids)),
                        "lora_A", "missing tensor");
  const std::string misshapen = copy_with("misshapen", [&](auto& t) {
    t[a_name] = Tensor::zeros({3, 32});
  });
  expect_one_line_error(cli(fmt::format("logits -m {} --lora {} {}", path("base"), misshapen, ids)),
                        "shape", "misshapen tensor");

  const std::string bad = copy_with("bad_config", [](auto&) {});
  nlohmann::json c = nlohmann::json::parse(read_file(adapter + "/adapter_config.json"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"r", "four"},
           {"peft_type", "IA3"},
           {"target_modules", nlohmann::json::array()},
           {"base_model_sha256", "abc"},
           {"lora_dropout", 1.5}}) {
    nlohmann::json b = c;
    b[key] = value;
    write_file(bad + "/adapter_config.json", b.dump());
    expect_one_line_error(cli(fmt::format("logits -m {} --lora {} {}", path("base"), bad, ids)),
                          key, "bad adapter_config " + key);
  }
  write_file(bad + "/adapter_config.json", "{\"peft_type\": \"LORA\", ");
  expect_one_line_error(cli(fmt::format("logits -m {} --lora {} {}", path("base"), bad, ids)),
                        "adapter_config.json", "truncated adapter_config");
  expect_one_line_error(cli(fmt::format("train --config {} --data {} --out {} --lora-rank 4",
                                        path("config.json"), path("corpus"), path("no_base"))),
                        "--init-from", "LoRA without a base");
}

}  // namespace tinyr2
