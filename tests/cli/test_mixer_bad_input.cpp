// Bad input around the SPEC §10 sequence mixers, through the command line (issue 14): each is
// exit status 1 and one line on stderr that names what is wrong —
//   - an unknown attention_types name (the name, and the names it could be);
//   - mamba_d_conv < 1;
//   - an odd head size where RoPE rotates pairs (pos_embedding "rope", Retention);
//   - --ctx beyond ctx_len for a learned-position model (generate and eval);
//   - a model directory whose tensors belong to another layer type than its config names.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace tinyr2 {

namespace {

using testing::read_file;
using testing::run_cli;
using testing::TempDir;
using testing::write_file;

constexpr const char* kConfig = R"({"vocab_size": 50257, "ctx_len": 32, "n_embd": 16,
  "n_head": 2, "n_layer": 1, "attention_types": ["FULL"], "types": ["mlp"], "hc": false})";

class MixerBadInput : public ::testing::Test {
 protected:
  TempDir tmp{"mixer_bad_input"};

  testing::CliResult cli(const std::string& args) {
    return run_cli("-t 1 " + args, tmp.path().string());
  }
  // kConfig with `extra` merged over it, written to NAME.json; returns its path.
  std::string config(const std::string& name, const std::string& extra) {
    nlohmann::json j = nlohmann::json::parse(kConfig);
    j.update(nlohmann::json::parse(extra));
    write_file(tmp / (name + ".json"), j.dump());
    return tmp / (name + ".json");
  }
  // `tinyr2 init` of kConfig + extra into directory NAME.
  std::string model(const std::string& name, const std::string& extra) {
    const auto r = cli(fmt::format("init --config {} --out {}", config(name, extra), tmp / name));
    EXPECT_EQ(r.status, 0) << r.err;
    return tmp / name;
  }
};

// Exit 1, one line on stderr containing every needle, no "internal error".
void expect_one_line(const testing::CliResult& r, std::initializer_list<const char*> needles,
                     const std::string& what) {
  EXPECT_EQ(r.signal, 0) << what;
  EXPECT_EQ(r.status, 1) << what << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
  for (const char* n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << what << ": " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << what << ": " << r.err;
}

}  // namespace

TEST_F(MixerBadInput, ConfigErrorsAreOneLineNamingTheKey) {
  const auto init = [&](const std::string& name, const std::string& extra) {
    return cli(fmt::format("init --config {} --out {}", config(name, extra), tmp / name));
  };
  expect_one_line(init("unknown", R"({"attention_types": ["Mamba2"]})"),
                  {"attention_types", "\"Mamba2\"", "\"Mamba\""}, "unknown type");
  expect_one_line(init("unknown_case", R"({"attention_types": ["linear"]})"),
                  {"attention_types", "\"linear\""}, "unknown type (case)");
  expect_one_line(init("d_conv", R"({"attention_types": ["Mamba"], "mamba_d_conv": 0})"),
                  {"mamba_d_conv"}, "mamba_d_conv 0");
  expect_one_line(init("d_conv_neg", R"({"attention_types": ["Mamba"], "mamba_d_conv": -3})"),
                  {"mamba_d_conv"}, "mamba_d_conv -3");
  // n_embd 18 over 2 heads: head size 9, odd.
  expect_one_line(init("odd_rope", R"({"n_embd": 18, "pos_embedding": "rope"})"), {"pos_embedding"},
                  "odd head, rope");
  expect_one_line(init("odd_lfa", R"({"n_embd": 18, "attention_types": ["LFA"],
                                      "pos_embedding": "rope"})"),
                  {"pos_embedding"}, "odd head, LFA rope");
  expect_one_line(init("odd_retention", R"({"n_embd": 18, "attention_types": ["Retention"]})"),
                  {"attention_types", "\"Retention\"", "even"}, "odd head, Retention");
  // The same odd head with learned positions and no RoPE layer is a model.
  EXPECT_EQ(init("odd_learned", R"({"n_embd": 18, "attention_types": ["Linear"]})").status, 0);
}

TEST_F(MixerBadInput, CtxBeyondCtxLenOnALearnedPositionModel) {
  const std::string learned = model("learned", "{}");
  write_file(tmp / "data/d.txt", std::string(2000, 'a'));
  expect_one_line(cli(fmt::format("generate -m {} -p hi -n 1 --ctx 64", learned)), {"learned"},
                  "generate --ctx");
  expect_one_line(
      cli(fmt::format("eval -m {} --data {} --batches 1 --ctx 64", learned, tmp / "data")),
      {"learned"}, "eval --ctx");
  // Within ctx_len, and beyond it for a RoPE model, --ctx is fine.
  EXPECT_EQ(cli(fmt::format("generate -m {} -p hi -n 1 --ctx 16", learned)).status, 0);
  const std::string rope = model("rope", R"({"pos_embedding": "rope"})");
  const auto r = cli(fmt::format("generate -m {} -p hi -n 1 --ctx 64", rope));
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(MixerBadInput, TensorsOfAnotherLayerTypeAreOneLineNamingATensor) {
  // (saved as, read as): every SPEC §10 type's tensors under another type's config.
  const std::pair<const char*, const char*> cases[] = {
      {"FULL", "Mamba"}, {"Mamba", "Retention"}, {"Retention", "Linear"},
      {"Linear", "LFA"}, {"LFA", "FULL"},        {"Sparse", "Linear"}};
  for (const auto& [saved, read] : cases) {
    const std::string name = fmt::format("{}_as_{}", saved, read);
    const std::string dir = model(name, fmt::format(R"({{"attention_types": ["{}"]}})", saved));
    nlohmann::json j = nlohmann::json::parse(read_file(dir + "/config.json"));
    j["attention_types"] = {read};
    write_file(dir + "/config.json", j.dump());
    expect_one_line(cli(fmt::format("generate -m {} -p hi -n 1", dir)),
                    {"tensor", "blocks.0.attn."}, name);
  }
}

}  // namespace tinyr2
