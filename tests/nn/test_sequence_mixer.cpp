// The sequence-mixer interface (nn/sequence_mixer.h) and its factory (nn/mixer_factory.h),
// layer by layer, without a model around it:
//   - every type the config accepts makes a mixer whose type_name() is that name; an unknown
//     name is an error naming it;
//   - new_state() then forward_cached over a sequence — one prefill, or a prompt then one
//     token at a time — equals forward on the whole sequence (SPEC §7, 1e-4 relative), and a
//     cleared state reused gives the same;
//   - bytes() grows as documented: the closed form of each layer's buffers after t positions;
//   - named_parameters() are the tensors registered under the layer's prefix.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/full_attention.h"
#include "nn/mixer_factory.h"
#include "nn/sparse_attention.h"
#include "support/op_case.h"

namespace tinyr2::nn {

namespace {

// The parity suites' small base with a longer context: T = 100 spans 12 blocks of l = 8,
// 8 windows of w = 12 and 4× the n·l′ = 24 selected tokens.
constexpr const char* kBase = R"({
  "vocab_size": 101, "ctx_len": 128, "n_embd": 32, "n_head": 2, "n_layer": 1,
  "q_lora_rank": 16, "kv_lora_rank": 8, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
  "v_head_dim": 8, "block_size": 8, "block_stride": 4, "compress_hidden": 24,
  "select_block_size": 8, "num_tokens_to_keep": 24, "select_init_blocks": 1,
  "select_local_blocks": 1, "window_size": 12, "hc": false, "init_std": 0.1})";

struct MixerCase {
  std::string name;
  std::string config;  // merged over kBase
};

void PrintTo(const MixerCase& c, std::ostream* os) {
  *os << c.name;
}

ModelConfig config_of(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(kBase);
  j.update(nlohmann::json::parse(json));
  return ModelConfig::from_json(j);
}

Tensor random_input(int64_t T, int64_t C, uint64_t seed) {
  Tensor x = Tensor::empty({1, T, C});
  Rng(seed).normal(x.data(), x.numel(), 0.f, 1.f);
  return x;
}

Tensor full_forward(const SequenceMixer& m, const Tensor& x) {
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  return m.forward(ctx, x);
}

// Runs x (1,T,C) through the state: a first chunk of `first` positions, then one at a time.
// Returns the outputs (1,T,C); bytes_after[t] is state.bytes() after t positions (t = 0 …).
Tensor cached_forward(const SequenceMixer& m, MixerState& state, const Tensor& x, int64_t first,
                      std::vector<int64_t>* bytes_after = nullptr) {
  const int64_t T = x.size(1), C = x.size(2);
  Tensor out = Tensor::empty({1, T, C});
  if (bytes_after) bytes_after->assign(1, state.bytes());
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? first : 1;
    Tape tape;
    NoGradGuard ng(tape);
    ForwardContext ctx(tape);
    const Tensor chunk = x.view({T, C}).rows(pos, pos + n).view({1, n, C});
    const Tensor y = m.forward_cached(ctx, chunk, state, pos);
    std::copy(y.data(), y.data() + n * C, out.data() + pos * C);
    pos += n;
    if (bytes_after) bytes_after->resize(static_cast<size_t>(pos) + 1, state.bytes());
  }
  return out;
}

// bytes() of a layer's state after t positions, from the config (the layouts documented in
// nn/full_attention.h, nn/sparse_attention.h and, SPEC §10, nn/linear_attention.h,
// nn/lfa_attention.h, nn/retention.h, nn/mamba.h).
int64_t expected_bytes(const ModelConfig& c, int64_t t) {
  const int64_t C = c.n_embd, H = c.n_head;
  if (c.attention_type(0) == AttentionType::Full) return 4 * 2 * t * C;                      // k, v
  if (c.attention_type(0) == AttentionType::Retention) return t == 0 ? 0 : 4 * C * (C / H);  // S
  if (c.attention_type(0) == AttentionType::Linear)  // S (D×D) and z (D) per head, whatever t
    return t == 0 ? 0 : 4 * H * ((C / H) * (C / H) + C / H);
  if (c.attention_type(0) == AttentionType::Lfa)  // k, v rows; the last x and conv1 rows
    return t == 0 ? 0 : 4 * (2 * C * t + C + C / 2);
  if (c.attention_type(0) == AttentionType::Mamba)  // K−1 rows of xs, h (d_in × N)
    return t == 0 ? 0 : 4 * c.mamba_expand * C * (c.mamba_d_conv - 1 + c.mamba_d_state);
  const BranchSet b = c.branches(0);
  const int64_t Dk = c.qk_nope_head_dim + c.qk_rope_head_dim, Dv = c.v_head_dim;
  const int64_t l = c.block_size, d = c.block_stride;
  int64_t floats = 0;
  if (b[0] || b[1]) {
    const int64_t nb = t >= l ? (t - l) / d + 1 : 0;
    floats += nb * H * (Dk + Dv) + (t - nb * d) * C;  // compressed k/v, raw tail
  }
  if (b[1]) floats += t * H * (Dk + Dv);                           // selection rows
  if (b[2]) floats += std::min(t, c.window_size) * H * (Dk + Dv);  // window rings
  return 4 * floats;
}

class Mixer : public ::testing::TestWithParam<MixerCase> {};

TEST_P(Mixer, CachedForwardEqualsForwardAndStateBytesFollowTheLayout) {
  const ModelConfig cfg = config_of(GetParam().config);
  Parameters p;
  const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
  p.init_all(3);
  const int64_t T = 100;
  const Tensor x = random_input(T, cfg.n_embd, 5);
  const Tensor expected = full_forward(*mixer, x);

  const auto state = mixer->new_state();
  EXPECT_EQ(state->bytes(), 0);
  std::vector<int64_t> bytes;
  const Tensor stepwise = cached_forward(*mixer, *state, x, 1, &bytes);
  EXPECT_LE(testing::relative_error(stepwise, expected), 1e-4);
  for (int64_t t = 0; t <= T; ++t)
    EXPECT_EQ(bytes[t], expected_bytes(cfg, t)) << "after " << t << " positions";
  EXPECT_GE(state->allocated_bytes(), state->bytes());

  state->clear();  // reuse: a cleared state behaves like a new one
  EXPECT_EQ(state->bytes(), 0);
  const Tensor prefill = cached_forward(*mixer, *state, x, T / 3);
  EXPECT_LE(testing::relative_error(prefill, expected), 1e-4);
  state->clear();
  const Tensor whole = cached_forward(*mixer, *state, x, T);
  EXPECT_LE(testing::relative_error(whole, expected), 1e-4);
  EXPECT_EQ(state->bytes(), expected_bytes(cfg, T));
}

TEST_P(Mixer, OwnsTheTensorsRegisteredUnderItsPrefix) {
  const ModelConfig cfg = config_of(GetParam().config);
  Parameters p;
  p.add("before.weight", {3}, Init::constant(0.f));
  const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
  p.add("blocks.0.ffn.after", {5}, Init::constant(0.f));
  int64_t expected = 0;
  std::vector<std::string> names;
  for (const NamedTensor& e : p.all())
    if (e.name.rfind("blocks.0.attn.", 0) == 0) {
      expected += e.tensor.numel();
      names.push_back(e.name);
    }
  std::vector<std::string> got;
  for (const NamedTensor& e : mixer->named_parameters()) got.push_back(e.name);
  EXPECT_EQ(got, names);
  EXPECT_GT(expected, 0);
  EXPECT_EQ(mixer->num_params(), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Types, Mixer,
    ::testing::ValuesIn(std::vector<MixerCase>{
        {"full", R"({"attention_types": ["FULL"]})"},
        {"full_v_residual", R"({"attention_types": ["FULL"], "v_residual": true})"},
        {"sparse_100", R"({"attention_types": ["Sparse"], "attention_mode": [[1,0,0]]})"},
        {"sparse_010", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,0]]})"},
        {"sparse_001", R"({"attention_types": ["Sparse"], "attention_mode": [[0,0,1]]})"},
        {"sparse_110", R"({"attention_types": ["Sparse"], "attention_mode": ["DSA"]})"},
        {"sparse_101", R"({"attention_types": ["Sparse"], "attention_mode": ["SWA"]})"},
        {"sparse_011", R"({"attention_types": ["Sparse"], "attention_mode": [[0,1,1]]})"},
        {"sparse_111_sigmoid",
         R"({"attention_types": ["Sparse"], "attention_mode": ["NSA"], "branch_gate": "sigmoid"})"},
        {"retention", R"({"attention_types": ["Retention"]})"},
        {"mamba", R"({"attention_types": ["Mamba"]})"},
        {"mamba_k1", R"({"attention_types": ["Mamba"], "mamba_d_conv": 1, "mamba_d_state": 5})"},
        {"linear", R"({"attention_types": ["Linear"]})"},
        {"lfa", R"({"attention_types": ["LFA"]})"},
        {"lfa_rope", R"({"attention_types": ["LFA"], "pos_embedding": "rope"})"},
    }),
    [](const auto& info) { return info.param.name; });

TEST(MixerFactory, EveryConfigNameMakesAMixerOfThatName) {
  ASSERT_GE(mixer_types().size(), 2u);
  for (const MixerType& t : mixer_types()) {
    const ModelConfig cfg = config_of(fmt::format(R"({{"attention_types": ["{}"]}})", t.name));
    EXPECT_EQ(cfg.attention_type(0), t.type) << t.name;
    EXPECT_EQ(cfg.to_json()["attention_types"][0], t.name);
    EXPECT_EQ(attention_type_from_name(t.name), t.type);
    EXPECT_STREQ(attention_type_name(t.type), t.name);
    Parameters p;
    const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
    EXPECT_STREQ(mixer->type_name(), t.name);
    EXPECT_EQ(mixer->prefix(), "blocks.0.attn.");
  }
  // The layers behind the names (SPEC §2.1, §2.3).
  EXPECT_EQ(attention_type_from_name("FULL"), AttentionType::Full);
  EXPECT_EQ(attention_type_from_name("Sparse"), AttentionType::Sparse);
}

TEST(MixerFactory, AnUnknownNameIsAnErrorNamingIt) {
  try {
    attention_type_from_name("Mamba2");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"Mamba2\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"FULL\""), std::string::npos) << e.what();
  }
  try {
    config_of(R"({"attention_types": ["FULL", "full"]})");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attention_types"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"full\""), std::string::npos) << e.what();
  }
}

TEST(MixerFactory, AStateOfAnotherLayerOrPositionIsRefused) {
  const ModelConfig full = config_of(R"({"attention_types": ["FULL"]})");
  const ModelConfig sparse = config_of(R"({"attention_types": ["Sparse"]})");
  Parameters p;
  const auto a = make_sequence_mixer(p, "blocks.0.attn.", full, 0);
  const auto b = make_sequence_mixer(p, "blocks.1.attn.", sparse, 0);
  p.init_all(1);
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  const Tensor x = random_input(2, full.n_embd, 1);
  const auto sparse_state = b->new_state();
  try {
    a->forward_cached(ctx, x, *sparse_state, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.attn."), std::string::npos) << e.what();
  }
  const auto full_state = a->new_state();
  EXPECT_THROW(b->forward_cached(ctx, x, *full_state, 0), Error);
  EXPECT_THROW(a->forward_cached(ctx, x, *full_state, 1), Error);  // holds 0 positions, not 1
}

TEST(MixerFlops, FullCountsItsCausalProducts) {
  // 2·2·T·C per token forward (QKᵀ, PV), ×3 with backward, halved by the mask.
  const ModelConfig full = config_of(R"({"attention_types": ["FULL"]})");
  Parameters p;
  EXPECT_EQ(make_sequence_mixer(p, "a.", full, 0)->flops_per_token(512), 6.0 * 512 * 32);
}

TEST(MixerFlops, SparseCountsTheKeysEachBranchReads) {
  // kBase: H 2, Dk 8+8, vd 8, l 8, d 4, l′ 8, n 24/8 = 3 blocks (24 tokens), w 12; T = 100.
  // Per key and head 2·(Dk+vd) forward, ×3 with backward: 6·2·24 = 288 per key. Key counts
  // summed over t = 0…99, by hand:
  //   window    Σ min(12, t+1) = (1+…+11) + 89·12 = 1134
  //   blocks    t ≥ 7 sees ⌊(t−7)/4⌋+1: 4·(1+…+23) + 24 = 1128
  //   selection Σ min(24, t+1) = (1+…+24) + 76·24 = 2124; without branch 1 its block scores
  //             cost 2·H·Dk = 64 per block, forward only.
  Parameters p;
  const auto flops = [&](const char* mode, const char* extra = "") {
    const ModelConfig cfg = config_of(
        fmt::format(R"({{"attention_types": ["Sparse"], "attention_mode": {}{}}})", mode, extra));
    return make_sequence_mixer(p, fmt::format("m{}.", p.count()), cfg, 0)->flops_per_token(100);
  };
  EXPECT_DOUBLE_EQ(flops("[0,0,1]"), 288.0 * 1134 / 100);
  EXPECT_DOUBLE_EQ(flops("[1,0,0]"), 288.0 * 1128 / 100);
  EXPECT_DOUBLE_EQ(flops("[0,1,0]"), (288.0 * 2124 + 64.0 * 1128) / 100);
  EXPECT_DOUBLE_EQ(flops("[1,1,1]"), 288.0 * (1128 + 2124 + 1134) / 100);
  // A window as long as the sequence is causal attention over (Dk, vd): 3·H·(T+1)·(Dk+vd).
  EXPECT_DOUBLE_EQ(flops("[0,0,1]", R"(, "window_size": 128)"), 3.0 * 2 * 101 * 24);
}

}  // namespace

}  // namespace tinyr2::nn
