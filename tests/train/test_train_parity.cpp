// Training parity (SPEC §6): 20 optimizer steps of the C++ trainer against the PyTorch
// reference trainer (reference/train.py, float64) from the same initial model and the same
// micro-batches, gate noise off: loss, ce and bal agree at every step within 1e-3 relative.
// The config has FULL (value residual) + Sparse (NSA) attention, MLP + MoE (two routed
// experts per token) and mHC, grad_accum 2 and active clipping, so the whole recipe is
// exercised: Muon and AdamW groups, warmup + cosine, clipping, expert-bias updates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include <fmt/core.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "train/trainer.h"
#include "train_test_util.h"

namespace tinyr2::train {

namespace {

constexpr const char* kConfig = R"({
  "vocab_size": 101, "ctx_len": 64, "n_embd": 32, "n_head": 2, "n_layer": 3,
  "attention_types": ["FULL", "Sparse"], "attention_mode": ["NSA"], "types": ["mlp", "moe", "moe"],
  "n_experts": 5, "num_exp": 3, "moe_hidden": 24, "q_lora_rank": 16, "kv_lora_rank": 8,
  "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "block_size": 8, "block_stride": 8,
  "compress_hidden": 24, "select_block_size": 8, "num_tokens_to_keep": 24, "select_init_blocks": 1,
  "select_local_blocks": 1, "window_size": 12, "v_residual": true, "hc": true, "hc_num_streams": 3,
  "mhc": true, "gate_noise": 0.0, "init_std": 0.05,
  "train": {"batch_size": 2, "grad_accum": 2, "max_iters": 20, "warmup_iters": 4, "lr": 3e-3,
            "min_lr": 3e-4, "muon_lr": 0.02, "weight_decay": 0.1, "max_grad_norm": 1.0, "seed": 11}
})";

constexpr int64_t kSteps = 20, kAccum = 2, kB = 2, kT = 48, kVocab = 101;

// Learnable sequences: arithmetic progressions mod V with a per-row start and stride, plus
// a few random tokens.
std::vector<int64_t> make_ids(uint64_t seed) {
  Rng rng(seed);
  std::vector<int64_t> ids;
  for (int64_t r = 0; r < kSteps * kAccum * kB; ++r) {
    const int64_t start = static_cast<int64_t>(rng.next_below(kVocab)),
                  stride = 1 + static_cast<int64_t>(rng.next_below(3));
    for (int64_t t = 0; t <= kT; ++t) {
      const bool noise = rng.next_below(10) == 0;
      ids.push_back(noise ? static_cast<int64_t>(rng.next_below(kVocab))
                          : (start + stride * t) % kVocab);
    }
  }
  return ids;
}

std::vector<data::Batch> to_batches(const std::vector<int64_t>& ids) {
  std::vector<data::Batch> out;
  for (int64_t m = 0; m < kSteps * kAccum; ++m) {
    data::Batch b{kB, kT, {}, {}};
    for (int64_t r = 0; r < kB; ++r) {
      const int64_t* w = ids.data() + (m * kB + r) * (kT + 1);
      for (int64_t t = 0; t < kT; ++t) {
        b.ids.push_back(static_cast<int32_t>(w[t]));
        b.targets.push_back(static_cast<int32_t>(w[t + 1]));
      }
    }
    out.push_back(b);
  }
  return out;
}

double rel(double a, double e) {
  return std::abs(a - e) / std::max(std::abs(e), 1e-12);
}

}  // namespace

TEST(TrainParity, TwentyStepsMatchPyTorch) {
  testing::TempDir dir("parity");
  const nlohmann::json cfg_json = nlohmann::json::parse(kConfig);
  const RunConfig rc = RunConfig::from_json(cfg_json);
  const std::string model_dir = dir / "init", cfg_file = dir / "config.json",
                    batch_file = dir / "batches.safetensors", ref_file = dir / "ref.jsonl";
  {
    nn::Model init(rc.model);
    init.init(2024);
    init.save(model_dir);
  }
  testing::write_file(cfg_file, cfg_json.dump(2));
  const std::vector<int64_t> ids = make_ids(77);
  io::save_safetensors(batch_file, {}, {}, io::FloatFormat::F32,
                       {{"ids", {{kSteps, kAccum, kB, kT + 1}, ids}}});

  const std::string cmd =
      fmt::format("{} {}/reference/train.py -m {} --config {} --batches {} --out {} >{} 2>&1",
                  TINYR2_TORCH_PYTHON, TINYR2_SOURCE_DIR, model_dir, cfg_file, batch_file, ref_file,
                  dir / "ref.log");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << testing::read_file(dir / "ref.log");
  std::vector<nlohmann::json> ref;
  for (const auto& line : testing::lines_of(testing::read_file(ref_file)))
    ref.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(ref.size(), static_cast<size_t>(kSteps));

  auto model = nn::Model::load(model_dir);
  BatchListSource src(to_batches(ids));
  Trainer trainer(*model, rc.train, src);
  double worst_loss = 0, worst_norm = 0;
  for (int64_t s = 0; s < kSteps; ++s) {
    const StepResult r = trainer.step();
    const auto& e = ref[static_cast<size_t>(s)];
    ASSERT_EQ(e["step"].get<int64_t>(), r.step);
    ASSERT_FALSE(r.skipped);
    const double loss = e["loss"].get<double>(), ce = e["ce"].get<double>(),
                 bal = e["bal"].get<double>();
    EXPECT_LE(rel(r.loss, loss), 1e-3)
        << "step " << r.step << ": loss " << r.loss << " vs " << loss;
    EXPECT_LE(rel(r.ce, ce), 1e-3) << "step " << r.step << ": ce " << r.ce << " vs " << ce;
    EXPECT_LE(std::abs(r.bal - bal), 1e-3 * std::abs(bal) + 1e-5)
        << "step " << r.step << ": bal " << r.bal << " vs " << bal;
    EXPECT_LE(rel(r.grad_norm, e["grad_norm"].get<double>()), 1e-2)
        << "step " << r.step << ": grad norm";
    EXPECT_NEAR(r.lr, e["lr"].get<double>(), 1e-12);
    EXPECT_NEAR(r.muon_lr, e["muon_lr"].get<double>(), 1e-12);
    worst_loss = std::max(worst_loss, rel(r.loss, loss));
    worst_norm = std::max(worst_norm, rel(r.grad_norm, e["grad_norm"].get<double>()));
  }
  // The run actually learned something (the test is not comparing two frozen models).
  EXPECT_LT(ref.back()["ce"].get<double>(), ref.front()["ce"].get<double>() - 0.3);
  std::printf("[ parity ] loss %.4f → %.4f; max relative error: loss %.2e, grad norm %.2e\n",
              ref.front()["loss"].get<double>(), ref.back()["loss"].get<double>(), worst_loss,
              worst_norm);
}

}  // namespace tinyr2::train
