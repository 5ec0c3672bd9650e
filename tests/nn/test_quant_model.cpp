// Models from GGUF files (SPEC §13): which tensor gets which type; f32 / bf16 files load as
// float models with the same (or bf16-rounded) weights; Q8_0 / Q4_0 models give the logits of
// the dequantized float32 model within the error of quantizing the activations, in a full
// forward and in cached decoding, through every quantized call site (FULL and Sparse
// projections, block compressor, MLP, MoE experts, tied head and embedding).
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "autograd/tape.h"
#include "nn/gguf_model.h"
#include "support/cli.h"
#include "support/model_inputs.h"
#include "support/small_model.h"

namespace tinyr2 {
namespace {

using kernels::QuantType;
using testing::eval_logits;

nn::ModelConfig quant_config() {
  nlohmann::json j = nlohmann::json::parse(testing::kSmallModelBase);
  j["n_embd"] = 64;
  j["attention_types"] = {"FULL", "Sparse"};
  j["types"] = {"moe", "mlp"};
  j["moe_hidden"] = 64;
  j["q_lora_rank"] = 32;
  j["kv_lora_rank"] = 32;
  j["compress_hidden"] = 64;
  j["hc"] = true;
  j["hc_num_streams"] = 2;
  j["init_std"] = 0.05;
  return nn::ModelConfig::from_json(j);
}

// Token by token through the decode cache.
std::vector<float> cached_logits(const nn::Model& m, const std::vector<int32_t>& ids) {
  Tape tape;
  NoGradGuard ng(tape);
  nn::ForwardContext ctx(tape);
  nn::ModelCache cache = m.new_cache();
  std::vector<float> out;
  for (int32_t id : ids) {
    const Tensor l = m.forward_cached(ctx, IndexTensor({1, 1}, {id}), cache);
    const std::vector<float> v = l.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}

std::vector<int32_t> test_ids(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 37 + 11) % vocab));
  return ids;
}

TEST(QuantModel, TensorTypesFollowSpec13) {
  const auto t = [](const char* name, Shape s, QuantType kind) {
    return nn::gguf_tensor_type(name, s, kind);
  };
  for (QuantType k : {QuantType::Q8_0, QuantType::Q4_0}) {
    EXPECT_EQ(t("token_embedding_table.weight", {50257, 256}, k), QuantType::Q8_0);
    EXPECT_EQ(t("blocks.0.attn.c_attn.weight", {768, 256}, k), k);
    EXPECT_EQ(t("blocks.1.attn.block_compressor.0.weight", {256, 4096}, k), k);
    EXPECT_EQ(t("blocks.1.ffn.experts.3.c_proj.weight", {256, 1024}, k), k);
    EXPECT_EQ(t("blocks.1.attn.decompress_k_nope.weight", {128, 32}, k), k);
    EXPECT_EQ(t("blocks.1.attn.decompress_k_nope.weight", {128, 24}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.ffn.gate.weight", {7, 256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.ffn.router.q.weight", {8, 256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.attn.branch_gate.weight", {3, 256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.attn.g_proj.weight", {256, 256}, k), k);
    EXPECT_EQ(t("blocks.1.attn.dt_proj.weight", {512, 32}, k), QuantType::F32);
    EXPECT_EQ(t("position_embedding_table.weight", {256, 256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.attn.intra_block_pos_encoding", {16, 256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.hc_attn.H_res_logits", {32, 32}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.rm1.weight", {256}, k), QuantType::F32);
    EXPECT_EQ(t("blocks.1.attn.lamb1", {}, k), QuantType::F32);
  }
  EXPECT_EQ(t("blocks.1.rm1.weight", {256}, QuantType::BF16), QuantType::F32);
  EXPECT_EQ(t("blocks.1.attn.lamb1", {}, QuantType::BF16), QuantType::F32);
  EXPECT_EQ(t("blocks.1.hc_attn.H_res_logits", {4, 4}, QuantType::BF16), QuantType::BF16);
  EXPECT_EQ(t("blocks.0.attn.c_attn.weight", {768, 256}, QuantType::F32), QuantType::F32);
}

TEST(QuantModel, F32AndBf16FilesLoadAsFloatModels) {
  const testing::TempDir dir("quant_float");
  nn::Model model(quant_config());
  model.init(7);
  const std::vector<int32_t> ids = test_ids(20, model.cfg.vocab_size);
  const std::vector<float> want = eval_logits(model, ids).to_vector();
  const nn::GgufVocab vocab{{"a"}, {}};
  nn::save_gguf(model, model.cfg.to_json().dump(), "m", vocab, QuantType::F32, dir / "f32.gguf");
  auto f32 = nn::load_gguf(dir / "f32.gguf");
  EXPECT_FALSE(f32->quantized);
  EXPECT_EQ(eval_logits(*f32, ids).to_vector(), want);  // the same weights, bit for bit

  nn::save_gguf(model, model.cfg.to_json().dump(), "m", vocab, QuantType::BF16, dir / "bf16.gguf");
  auto bf16 = nn::load_gguf(dir / "bf16.gguf");
  EXPECT_FALSE(bf16->quantized);
  for (const nn::NamedTensor& e : model.params.all()) {
    const std::vector<float> a = e.tensor.to_vector();
    const std::vector<float> b = bf16->params.find(e.name)->tensor.to_vector();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(b[i],
                e.tensor.dim() >= 2 ? kernels::bf16_to_fp32(kernels::fp32_to_bf16(a[i])) : a[i])
          << e.name;
  }
}

TEST(QuantModel, QuantizedLogitsMatchTheDequantizedModel) {
  const testing::TempDir dir("quant_logits");
  nn::Model model(quant_config());
  model.init(8);
  const std::vector<int32_t> ids = test_ids(40, model.cfg.vocab_size);
  for (QuantType kind : {QuantType::Q8_0, QuantType::Q4_0}) {
    const std::string file = dir / "m.gguf";
    nn::save_gguf(model, model.cfg.to_json().dump(), "m", {{"a"}, {}}, kind, file);
    auto q = nn::load_gguf(file);
    ASSERT_TRUE(q->quantized);
    // The dequantized float32 model: every quantized matrix replaced by its blocks' values.
    nn::Model deq(model.cfg);
    int64_t n_quantized = 0;
    for (const nn::NamedTensor& e : model.params.all()) {
      Tensor dst = deq.params.find(e.name)->tensor;
      dst.copy_from(e.tensor);
      const QuantType type = nn::gguf_tensor_type(e.name, e.tensor.shape(), kind);
      if (type != QuantType::Q8_0 && type != QuantType::Q4_0) continue;
      ++n_quantized;
      const int64_t cols = e.tensor.size(1);
      std::vector<uint8_t> blocks(static_cast<size_t>(kernels::quant_row_bytes(type, cols)));
      for (int64_t r = 0; r < e.tensor.size(0); ++r) {
        kernels::quantize_row(type, dst.data() + r * cols, blocks.data(), cols);
        kernels::dequantize_row(type, blocks.data(), dst.data() + r * cols, cols);
      }
    }
    EXPECT_EQ(static_cast<int64_t>(q->quantized->by_tensor.size()), n_quantized);
    EXPECT_GE(n_quantized, 20);  // head, FULL, Sparse, compressor, MLP, experts

    const std::vector<float> ref = eval_logits(deq, ids).to_vector();
    const std::vector<float> got = eval_logits(*q, ids).to_vector();
    const double scale = max_abs(ref);
    // Only the activations' Q8_0 rounding (≈ 1/254 of each block's largest value) separates
    // them, position by position — except where that rounding flips a discrete choice (an
    // expert of the router, an NSA selected block): at most 2 positions of 40 may then move
    // further, and none far.
    const size_t V = got.size() / ids.size();
    int far = 0;
    for (size_t p = 0; p < ids.size(); ++p) {
      const std::vector<float> a(got.begin() + p * V, got.begin() + (p + 1) * V);
      const std::vector<float> b(ref.begin() + p * V, ref.begin() + (p + 1) * V);
      const double d = max_abs_diff(a, b);
      far += d > 0.012 * scale;
      EXPECT_LT(d, 0.1 * scale) << kernels::quant_type_name(kind) << " position " << p;
    }
    EXPECT_LE(far, 2) << kernels::quant_type_name(kind);
    EXPECT_GT(max_abs_diff(got, ref), 0.0) << "the quantized path did not run";
    // Cached decoding equals the quantized full forward (per-row quantization: the same
    // products), up to attention's float order.
    EXPECT_LT(max_abs_diff(cached_logits(*q, ids), got), 1e-4 * scale);
    // Saving a quantized model as a directory is refused, not garbage.
    EXPECT_THROW(q->save(dir / "nope"), Error);
  }
}

// SPEC §10 mixers (Linear, LFA, Retention, Mamba): their projections are quantized like every
// Linear module and their products take the quantized path (no discrete choices here, so
// every position stays within the activations' rounding); cached decode = full forward.
TEST(QuantModel, NewMixerTypesUseTheQuantizedProducts) {
  const testing::TempDir dir("quant_mixers");
  nlohmann::json j = nlohmann::json::parse(testing::kSmallModelBase);
  j["n_embd"] = 64;
  j["n_layer"] = 4;
  j["attention_types"] = {"Linear", "LFA", "Retention", "Mamba"};
  j["types"] = {"mlp"};
  j["init_std"] = 0.05;
  nn::Model model(nn::ModelConfig::from_json(j));
  model.init(9);
  const std::vector<int32_t> ids = test_ids(24, model.cfg.vocab_size);
  const std::string file = dir / "m.gguf";
  nn::save_gguf(model, model.cfg.to_json().dump(), "m", {{"a"}, {}}, QuantType::Q8_0, file);
  auto q = nn::load_gguf(file);
  ASSERT_TRUE(q->quantized);
  nn::Model deq(model.cfg);
  int64_t n_mixer = 0;
  for (const nn::NamedTensor& e : model.params.all()) {
    Tensor dst = deq.params.find(e.name)->tensor;
    dst.copy_from(e.tensor);
    const QuantType type = nn::gguf_tensor_type(e.name, e.tensor.shape(), QuantType::Q8_0);
    if (type != QuantType::Q8_0) continue;
    n_mixer += e.name.find(".attn.") != std::string::npos;
    const int64_t cols = e.tensor.size(1);
    std::vector<uint8_t> blocks(static_cast<size_t>(kernels::quant_row_bytes(type, cols)));
    for (int64_t r = 0; r < e.tensor.size(0); ++r) {
      kernels::quantize_row(type, dst.data() + r * cols, blocks.data(), cols);
      kernels::dequantize_row(type, blocks.data(), dst.data() + r * cols, cols);
    }
  }
  // Linear: c_attn, c_proj; LFA: c_qk, c_v, c_proj; Retention: c_attn, g_proj, c_proj;
  // Mamba: in_proj, x_proj, out_proj (dt_proj stays F32).
  EXPECT_EQ(n_mixer, 11);
  const std::vector<float> ref = eval_logits(deq, ids).to_vector();
  const std::vector<float> got = eval_logits(*q, ids).to_vector();
  const double scale = max_abs(ref);
  // Four layers of activation rounding (and linear attention's normaliser) add up to ~2 % of
  // the logit scale here (measured 1.9 %); a weight read as garbage would be of the scale.
  EXPECT_LT(max_abs_diff(got, ref), 0.04 * scale);
  EXPECT_GT(max_abs_diff(got, ref), 0.0) << "the quantized path did not run";
  EXPECT_LT(max_abs_diff(cached_logits(*q, ids), got), 1e-4 * scale);
}

}  // namespace
}  // namespace tinyr2
