// LoRA adapters (SPEC §12) against the literal PyTorch reference (reference/lora.py,
// float64: forward hooks W x + (a/r)·B(A x) on the targeted nn.Linear modules): loss and the
// gradients of every lora_A and lora_B on a model with FULL and Sparse (NSA/MLA, RoPE'd
// stacked projections) attention, an MLP and a MoE (routed experts one by one); step 0
// equals the base model; the merged model equals base + adapter at run time; targets.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/core.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "nn/lora.h"
#include "nn/lora_files.h"
#include "nn/model.h"
#include "support/model_inputs.h"
#include "support/op_case.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

namespace fs = std::filesystem;
using testing::eval_logits;
using testing::random_ids;

ModelConfig lora_config() {
  return testing::small_model_config(
      R"({"attention_types": ["FULL", "Sparse"], "types": ["mlp", "moe"], "hc": true})");
}

fs::path work_dir(const std::string& name) {
  fs::path d = fs::path(TINYR2_REF_DIR) / "lora" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Random B too (B = 0 at init would give A no gradient and hide an unapplied adapter).
void randomize_b(const LoraAdapters& a, uint64_t seed) {
  Rng rng(seed);
  for (const LoraAdapter& ad : a.all()) {
    Tensor b = ad.B;
    rng.normal(b.data(), b.numel(), 0.f, 0.2f);
  }
}

}  // namespace

TEST(Lora, TargetsSelectGroupsAndSuffixesButNeverTheRouter) {
  Model m(lora_config());
  LoraSpec s;
  s.rank = 2;
  const LoraAdapters all(m.params, s);
  bool router = false, c_attn = false, expert = false, sparse_q = false;
  for (const std::string& mod : all.modules()) {
    router = router || mod.find(".ffn.gate") != std::string::npos;
    c_attn = c_attn || mod == "blocks.0.attn.c_attn";
    expert = expert || mod == "blocks.1.ffn.experts.3.c_proj";
    sparse_q = sparse_q || mod == "blocks.1.attn.decompress_q_rope";
  }
  EXPECT_FALSE(router);
  EXPECT_TRUE(c_attn && expert && sparse_q);
  s.targets = parse_lora_targets("c_attn, c_proj");
  const LoraAdapters some(m.params, s);
  for (const std::string& mod : some.modules())
    EXPECT_TRUE(mod.ends_with(".c_attn") || mod.ends_with(".c_proj")) << mod;
  EXPECT_EQ(some.modules().front(), "blocks.0.attn.c_attn");
  s.targets = {"attn"};
  for (const std::string& mod : LoraAdapters(m.params, s).modules())
    EXPECT_EQ(mod.rfind("blocks.", 0), 0u) << mod;
  s.targets = {"no_such_module"};
  EXPECT_THROW(LoraAdapters(m.params, s), Error);
  s.targets = {"gate"};  // the router is not a target
  EXPECT_THROW(LoraAdapters(m.params, s), Error);
  EXPECT_THROW(parse_lora_targets("c_attn,,c_proj"), Error);
  EXPECT_EQ(peft_name("blocks.0.attn.c_attn", 'A'),
            "base_model.model.blocks.0.attn.c_attn.lora_A.weight");
}

TEST(Lora, InitIsNormalWithStdOneOverSqrtRAndZeroB) {
  Model m(lora_config());
  LoraSpec s;
  s.rank = 4;
  LoraAdapters a(m.params, s);
  a.init(5);
  double sum2 = 0;
  int64_t n = 0;
  for (const LoraAdapter& ad : a.all()) {
    EXPECT_EQ(ad.A.size(0), 4);
    EXPECT_EQ(ad.A.size(1), ad.base.size(1));
    EXPECT_EQ(ad.B.size(0), ad.base.size(0));
    for (float v : ad.B.to_vector()) ASSERT_EQ(v, 0.f);
    for (float v : ad.A.to_vector()) sum2 += double(v) * v, ++n;
  }
  EXPECT_NEAR(std::sqrt(sum2 / static_cast<double>(n)), 0.5, 0.02);  // std r^-1/2
}

TEST(Lora, StepZeroEqualsTheBaseModel) {
  Model m(lora_config());
  m.init(11);
  const IndexTensor ids = random_ids(2, 24, m.cfg.vocab_size, 3);
  const Tensor base = eval_logits(m, ids);
  LoraSpec s;
  s.rank = 4;
  auto a = std::make_shared<LoraAdapters>(m.params, s);
  a->init(12);
  m.lora = a;
  const Tensor with = eval_logits(m, ids);
  EXPECT_LE(testing::relative_error(with, base), 1e-6);
}

TEST(Lora, GradientsOfAAndBMatchPyTorch) {
  const fs::path dir = work_dir("grads");
  Model m(lora_config());
  m.init(21);
  m.save((dir / "base").string());
  LoraSpec s;
  s.rank = 3;
  s.alpha = 6;
  auto a = std::make_shared<LoraAdapters>(m.params, s);
  a->init(22);
  randomize_b(*a, 23);
  save_adapter((dir / "adapter").string(), *a, "base",
               io::sha256_file_hex((dir / "base" / "model.safetensors").string()));
  auto model = load_with_lora((dir / "base").string(), (dir / "adapter").string());
  freeze(model->params);

  const int64_t B = 2, T = 24;
  const IndexTensor all = random_ids(B, T + 1, m.cfg.vocab_size, 24);
  std::vector<int64_t> all64(all.data.begin(), all.data.end());
  std::vector<int32_t> in, tg;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      in.push_back(all.data[b * (T + 1) + t]);
      tg.push_back(all.data[b * (T + 1) + t + 1]);
    }
  const fs::path ids_file = dir / "ids.safetensors", ref_file = dir / "ref.safetensors";
  io::save_safetensors(ids_file.string(), {}, {}, io::FloatFormat::F32,
                       {{"ids", {{B, T + 1}, all64}}});
  const std::string cmd =
      fmt::format("{} {}/reference/lora.py grads -m {} --adapter {} --ids-file {} --out {}",
                  TINYR2_TORCH_PYTHON, TINYR2_SOURCE_DIR, (dir / "base").string(),
                  (dir / "adapter").string(), ids_file.string(), ref_file.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const io::SafetensorsData ref = io::load_safetensors(ref_file.string());

  Tape tape;
  ForwardContext ctx(tape);
  ctx.training = true;
  ctx.gate_noise = false;
  const IndexTensor ids({B, T}, in), targets({B, T}, tg);
  const ModelOutput out = model->forward(ctx, ids, &targets);
  const double ref_loss = ref.tensors.at("loss").item();
  EXPECT_NEAR(out.loss.item(), ref_loss, 1e-4 * std::abs(ref_loss));
  tape.backward(out.loss);
  for (const NamedTensor& e : model->params.all())  // the frozen base gets no gradient
    EXPECT_FALSE(e.tensor.grad().defined()) << e.name;
  int checked = 0;
  for (const NamedTensor& e : model->lora->params().all()) {
    const Tensor& expected = ref.tensors.at("grad." + e.name);
    double emax = 0;
    for (float v : expected.to_vector()) emax = std::max(emax, double(std::abs(v)));
    ++checked;
    if (emax < 1e-12) {  // a routed expert no token chose: no gradient on either side
      EXPECT_NE(e.name.find(".experts."), std::string::npos) << e.name << ": zero gradient";
      const Tensor got =
          e.tensor.grad().defined() ? e.tensor.grad() : Tensor::zeros(e.tensor.shape());
      for (float v : got.to_vector()) ASSERT_EQ(v, 0.f) << e.name;
      continue;
    }
    ASSERT_TRUE(e.tensor.grad().defined()) << e.name << " got no gradient";
    EXPECT_LE(testing::relative_error(e.tensor.grad(), expected), 1e-3) << e.name;
  }
  EXPECT_EQ(checked, 2 * static_cast<int>(model->lora->all().size()));
}

TEST(Lora, MergedModelEqualsBasePlusAdapter) {
  const fs::path dir = work_dir("merge");
  Model m(lora_config());
  m.init(31);
  m.save((dir / "base").string());
  LoraSpec s;
  s.rank = 2;
  s.alpha = 4;
  s.targets = {"attn", "ffn"};
  auto a = std::make_shared<LoraAdapters>(m.params, s);
  a->init(32);
  randomize_b(*a, 33);
  m.lora = a;
  const IndexTensor ids = random_ids(1, 30, m.cfg.vocab_size, 34);
  const Tensor run_time = eval_logits(m, ids);
  Model base(m.cfg);
  base.params.load_state_dict(m.params.state_dict(), "copy");
  const Tensor before = eval_logits(base, ids);
  // merge writes into the model the adapters were built on: build them on `base`
  auto on_base = std::make_shared<LoraAdapters>(base.params, s);
  on_base->load_state_dict(a->state_dict(), "copy");
  merge_into_base(*on_base);
  const Tensor merged = eval_logits(base, ids);
  EXPECT_LE(testing::relative_error(merged, run_time), 1e-5);
  EXPECT_GT(testing::relative_error(before, run_time), 1e-3);  // the adapter does something
}

TEST(Lora, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(io::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(io::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(io::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(io::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace tinyr2::nn
