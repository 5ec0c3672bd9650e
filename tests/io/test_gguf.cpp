// GGUF v3 (SPEC §13): write/read round trip, our files read by an independent reader (the npm
// package @huggingface/gguf, tests/io/gguf_oracle.js), and corrupt files — truncations, huge
// counts, bad offsets, unknown types, random byte flips — giving one clear tinyr2::Error (exit
// 1 from the CLI), never a crash or a read outside the file (also under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/gguf.h"
#include "nn/gguf_model.h"
#include "support/cli.h"
#include "support/small_model.h"

namespace tinyr2 {
namespace {

namespace fs = std::filesystem;

std::string npm_prefix() {
  const char* home = std::getenv("TINYR2_HOME");
  const char* user = std::getenv("HOME");
  const fs::path root =
      home && *home ? fs::path(home) : fs::path(user ? user : ".") / ".cache" / "tinyr2";
  return (root / "npm").string();
}

// A small model with every kind of tensor (FULL and Sparse, MLP and MoE, HC), widths that are
// whole blocks of 32 where §13 quantizes.
nn::ModelConfig quant_config() {
  nlohmann::json j = nlohmann::json::parse(testing::kSmallModelBase);
  j["n_embd"] = 64;
  j["attention_types"] = {"FULL", "Sparse"};
  j["types"] = {"mlp", "moe"};
  j["moe_hidden"] = 64;
  j["q_lora_rank"] = 32;
  j["kv_lora_rank"] = 32;
  j["compress_hidden"] = 64;
  j["hc"] = true;
  j["hc_num_streams"] = 2;
  return nn::ModelConfig::from_json(j);
}

nn::GgufVocab tiny_vocab() {
  return {{"a", "b", "<|endoftext|>"}, {"a b"}};
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  const std::string s = testing::read_file(path);
  return {s.begin(), s.end()};
}

void put_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  testing::write_file(path, std::string(b.begin(), b.end()));
}

TEST(Gguf, WriteReadRoundTrip) {
  const testing::TempDir dir("gguf_rt");
  std::vector<std::pair<std::string, io::GgufValue>> kv;
  kv.emplace_back("a.string", io::GgufValue::string("héllo"));
  kv.emplace_back("a.u32", io::GgufValue::uint32(4000000000u));
  kv.emplace_back("a.i32", io::GgufValue::int32(-7));
  io::GgufValue f;
  f.type = io::GgufType::F32;
  f.f = 0.5;
  kv.emplace_back("a.f32", f);
  io::GgufValue arr;
  arr.type = io::GgufType::ARRAY;
  arr.array_type = io::GgufType::I64;
  arr.ints = {1, -2, 3};
  kv.emplace_back("a.ints", arr);
  kv.emplace_back("a.strs", io::GgufValue::strings({"x", "", "yz"}));
  std::vector<io::GgufTensorOut> ts;
  ts.push_back({"t0", {3}, 0, std::vector<uint8_t>(12, 1)});            // F32, 12 bytes
  ts.push_back({"t1", {32, 2}, 8, std::vector<uint8_t>(68, 2)});        // Q8_0
  ts.push_back({"t2", {64}, 2, std::vector<uint8_t>(36, 3)});           // Q4_0
  ts.push_back({"t3", {5, 1, 1, 1}, 30, std::vector<uint8_t>(10, 4)});  // BF16
  io::write_gguf(dir / "x.gguf", kv, ts);
  const io::GgufFile g = io::read_gguf(dir / "x.gguf");
  EXPECT_EQ(g.version, 3u);
  ASSERT_EQ(g.metadata.size(), kv.size());
  EXPECT_EQ(g.find("a.string")->str, "héllo");
  EXPECT_EQ(g.find("a.u32")->u, 4000000000u);
  EXPECT_EQ(g.find("a.i32")->i, -7);
  EXPECT_EQ(g.find("a.f32")->f, 0.5);
  EXPECT_EQ(g.find("a.ints")->ints, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(g.find("a.strs")->strs, (std::vector<std::string>{"x", "", "yz"}));
  ASSERT_EQ(g.tensors.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(g.tensors[i].name, ts[i].name);
    EXPECT_EQ(g.tensors[i].dims, ts[i].dims);
    EXPECT_EQ(g.tensors[i].type, ts[i].type);
    EXPECT_EQ(g.tensors[i].offset % 32, 0u);
    EXPECT_EQ(static_cast<int64_t>(g.tensors[i].bytes), static_cast<int64_t>(ts[i].bytes.size()));
    EXPECT_EQ(std::vector<uint8_t>(g.tensors[i].data, g.tensors[i].data + g.tensors[i].bytes),
              ts[i].bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(g.tensors[i].data) % 32, 0u);  // mapping is aligned
  }
}

TEST(Gguf, IndependentReaderListsTheSameKeysTensorsTypesShapes) {
  ASSERT_EQ(std::system("node --version >/dev/null 2>&1"), 0)
      << "node is missing: run scripts/setup";
  ASSERT_TRUE(fs::exists(fs::path(npm_prefix()) / "node_modules/@huggingface/gguf/package.json"))
      << "npm @huggingface/gguf is not in " << npm_prefix() << ": run scripts/setup";
  const testing::TempDir dir("gguf_oracle");
  nn::Model model(quant_config());
  model.init(3);
  model.save(dir / "m");
  for (const char* type : {"q4_0", "bf16"}) {
    const std::string file = dir / (std::string(type) + ".gguf");
    const auto r = testing::run_cli(
        "quantize -m " + (dir / "m") + " --type " + type + " --out " + file, dir / "scratch");
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string out = dir / "oracle.json";
    const std::string cmd = "node " + std::string(TINYR2_SOURCE_DIR) + "/tests/io/gguf_oracle.js " +
                            npm_prefix() + " " + file + " " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const nlohmann::json o = nlohmann::json::parse(testing::read_file(out));
    const io::GgufFile g = io::read_gguf(file);
    EXPECT_EQ(o["version"], 3);
    ASSERT_EQ(o["tensor_count"], g.tensors.size());
    ASSERT_EQ(o["kv"].size(), g.metadata.size());
    for (const auto& [key, v] : g.metadata) {
      ASSERT_TRUE(o["kv"].contains(key)) << key;
      const nlohmann::json& ov = o["kv"][key];
      if (v.type == io::GgufType::STRING) {
        EXPECT_EQ(ov, v.str) << key;
      } else if (v.type == io::GgufType::ARRAY) {
        ASSERT_EQ(ov["array"], v.strs.size()) << key;
        EXPECT_EQ(ov["first"], v.strs.front()) << key;
        EXPECT_EQ(ov["last"], v.strs.back()) << key;
      } else {
        EXPECT_EQ(ov, v.u) << key;
      }
    }
    // SPEC §13's keys.
    EXPECT_EQ(o["kv"]["general.architecture"], "tinyr2");
    EXPECT_EQ(o["kv"]["general.quantization_version"], 2);
    EXPECT_EQ(o["kv"]["tokenizer.ggml.model"], "gpt2");
    EXPECT_EQ(o["kv"]["tokenizer.ggml.eos_token_id"], 50256);
    EXPECT_EQ(o["kv"]["tokenizer.ggml.tokens"]["array"], 50257);
    EXPECT_EQ(o["kv"]["tokenizer.ggml.tokens"]["last"], "<|endoftext|>");
    EXPECT_EQ(o["kv"]["tinyr2.config"], testing::read_file(dir / "m/config.json"));
    // Every tensor: §3 name, ggml type, dims innermost first, offset.
    const auto& params = model.params.all();
    ASSERT_EQ(params.size(), g.tensors.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const nlohmann::json& t = o["tensors"][i];
      EXPECT_EQ(t["name"], params[i].name);
      EXPECT_EQ(t["dtype"], g.tensors[i].type) << params[i].name;
      EXPECT_EQ(t["offset"], g.tensors[i].offset) << params[i].name;
      Shape dims(params[i].tensor.shape().rbegin(), params[i].tensor.shape().rend());
      if (dims.empty()) dims = {1};
      EXPECT_EQ(t["shape"].get<std::vector<int64_t>>(), dims) << params[i].name;
      const auto want = nn::gguf_tensor_type(
          params[i].name, params[i].tensor.shape(),
          std::string(type) == "bf16" ? kernels::QuantType::BF16 : kernels::QuantType::Q4_0);
      EXPECT_EQ(t["dtype"], static_cast<uint32_t>(want)) << params[i].name;
    }
  }
}

// Parses `bytes` as a model file: an Error is fine, anything else (or a crash) is not.
bool loads(const std::vector<uint8_t>& bytes, const std::string& path, std::string* message) {
  put_bytes(path, bytes);
  try {
    nn::load_gguf(path);
    return true;
  } catch (const Error& e) {
    *message = e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return false;
  }
}

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  std::memcpy(b.data() + at, &v, 8);
}
void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}

// The file offset of the tensor-info entry of tensor `name` (just after its name string).
size_t info_after_name(const std::vector<uint8_t>& b, const std::string& name) {
  std::string hay(b.begin(), b.end());
  uint64_t len = name.size();
  std::string key(reinterpret_cast<const char*>(&len), 8);
  key += name;
  const size_t at = hay.rfind(key);
  EXPECT_NE(at, std::string::npos) << name;
  return at + key.size();
}

TEST(Gguf, CorruptFilesFailWithOneLineNeverACrash) {
  const testing::TempDir dir("gguf_corrupt");
  nn::Model model(quant_config());
  model.init(4);
  nn::save_gguf(model, model.cfg.to_json().dump(), "m", tiny_vocab(), kernels::QuantType::Q4_0,
                dir / "good.gguf");
  const std::vector<uint8_t> good = file_bytes(dir / "good.gguf");
  const std::string path = dir / "bad.gguf";
  std::string msg;
  ASSERT_TRUE(loads(good, path, &msg)) << msg;

  auto expect_fail = [&](const std::vector<uint8_t>& b, const std::string& needle) {
    EXPECT_FALSE(loads(b, path, &msg)) << "expected an error mentioning " << needle;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  // Truncations: every cut of the header through the reader (in memory), and a stride of cuts
  // through the whole model loader.
  const io::GgufFile g = io::read_gguf(dir / "good.gguf");
  const size_t header_end = info_after_name(good, g.tensors.back().name) + 64;
  for (size_t cut = 0; cut < good.size(); cut += cut < header_end ? 1 : 997) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    if (cut % 61 == 0 || cut >= header_end) {
      EXPECT_FALSE(loads(b, path, &msg)) << "truncated at " << cut;
      continue;
    }
    try {
      io::parse_gguf(b.data(), b.size(), nullptr, "cut.gguf");
      ADD_FAILURE() << "truncated at " << cut << " parsed";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  {
    auto b = good;
    b[0] = 'X';
    expect_fail(b, "bad magic");
    b = good;
    put_u32(b, 4, 2);
    expect_fail(b, "version 2");
    b = good;
    put_u64(b, 8, uint64_t{1} << 40);
    expect_fail(b, "tensors exceeds");
    b = good;
    put_u64(b, 16, ~uint64_t{0});
    expect_fail(b, "keys exceeds");
    b = good;
    put_u64(b, 24, uint64_t{1} << 62);  // the first key's length
    expect_fail(b, "exceeds the limit");
  }
  {
    // Tensor infos: n_dims (u32), dims (u64 × n), type (u32), offset (u64).
    const std::string name = "blocks.0.attn.c_attn.weight";
    const size_t at = info_after_name(good, name);
    auto b = good;
    put_u32(b, at + 4 + 16, 99);  // unknown ggml type
    expect_fail(b, "unknown ggml type 99");
    b = good;
    put_u32(b, at + 4 + 16, 12);  // a real ggml type (Q4_K) this reader does not take
    expect_fail(b, "unknown ggml type 12");
    b = good;
    put_u64(b, at + 4 + 16 + 4, 16);  // misaligned offset
    expect_fail(b, "not aligned");
    b = good;
    put_u64(b, at + 4 + 16 + 4, uint64_t{1} << 50);  // outside the file
    expect_fail(b, "outside the file");
    b = good;
    put_u64(b, at + 4 + 16 + 4, 0);  // overlaps the first tensor
    expect_fail(b, "overlap");
    b = good;
    put_u32(b, at, 9);  // dimension count
    expect_fail(b, "dimensions");
    b = good;
    put_u64(b, at + 4, uint64_t{1} << 45);  // a huge dimension
    expect_fail(b, "bad shape");
    b = good;
    put_u64(b, at + 4, 48);  // rows not whole blocks
    expect_fail(b, "whole");
  }
  // Seeded random byte flips: an error or a valid model, never a crash.
  std::mt19937_64 gen(1616);
  int errors = 0;
  for (int k = 0; k < 300; ++k) {
    auto b = good;
    for (int f = 0; f < 1 + k % 3; ++f) {
      const size_t at = gen() % (k % 4 == 0 ? b.size() : std::min(header_end, b.size()));
      b[at] ^= static_cast<uint8_t>(1u << (gen() % 8));
    }
    errors += loads(b, path, &msg) ? 0 : 1;
  }
  EXPECT_GT(errors, 100);  // most header flips are caught
}

TEST(Gguf, CliReportsACorruptFileInOneLineWithExitStatus1) {
  const testing::TempDir dir("gguf_cli");
  nn::Model model(quant_config());
  model.init(5);
  nn::save_gguf(model, model.cfg.to_json().dump(), "m", tiny_vocab(), kernels::QuantType::Q8_0,
                dir / "good.gguf");
  std::vector<uint8_t> b = file_bytes(dir / "good.gguf");
  b.resize(b.size() - 100);
  put_bytes(dir / "cut.gguf", b);
  for (const std::string& cmd :
       {std::string("info -m "), "logits --ids 1,2 --out " + (dir / "l.st") + " -m "}) {
    const auto r = testing::run_cli(cmd + (dir / "cut.gguf"), dir / "scratch");
    EXPECT_EQ(r.status, 1) << cmd << r.err;
    EXPECT_EQ(testing::lines_of(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("outside the file"), std::string::npos) << r.err;
  }
  const auto ok = testing::run_cli("info -m " + (dir / "good.gguf"), dir / "scratch");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

}  // namespace
}  // namespace tinyr2
