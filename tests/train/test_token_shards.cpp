// Token shards (SPEC §15, src/data/token_shards.h):
//   - ShardWriter splits at the shard size; reference/shards.py (struct/array, no tinyr2
//     code) reads the bytes back: header fields, counts, tokens = the closed form written;
//   - ShardStream's windows are the closed form's, wrapping at the end; position() and
//     restore() continue identically; bad headers are errors naming the file;
//   - `tinyr2 prepare` of a one-file corpus holds `tinyr2 tokenize`'s ids plus <|endoftext|>;
//   - training on 50 M tokens of shards peaks at the RSS of training on 1 M (streaming).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/token_shards.h"
#include "train_test_util.h"

namespace tinyr2::train {

namespace {

using testing::read_file;
using testing::run_cli;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;

int32_t closed_form(int64_t i) {
  return static_cast<int32_t>((i * 7919 + 3) % 50257);
}

void write_closed_form(const std::string& dir, const std::string& split, int64_t n,
                       int64_t per_shard, int32_t modulo = 50257) {
  data::ShardWriter w(dir, split, per_shard);
  std::vector<int32_t> chunk;
  for (int64_t i0 = 0; i0 < n; i0 += 1 << 20) {
    chunk.clear();
    for (int64_t i = i0; i < std::min(n, i0 + (int64_t{1} << 20)); ++i)
      chunk.push_back(closed_form(i) % modulo);
    w.append(chunk.data(), static_cast<int64_t>(chunk.size()));
  }
  w.finish();
}

nlohmann::json reference_read(const std::string& dir, const std::string& scratch) {
  const std::string out = scratch + "/shards.json";
  const std::string cmd = fmt::format("{} {}/reference/shards.py {} > {}", TINYR2_TORCH_PYTHON,
                                      TINYR2_SOURCE_DIR, dir, out);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return nlohmann::json::parse(read_file(out));
}

}  // namespace

TEST(TokenShards, WriterFilesReadByTheReference) {
  TempDir tmp("shards_ref");
  const std::string dir = tmp / "s";
  write_closed_form(dir, "train", 2500, 1000);
  write_closed_form(dir, "val", 300, 1000);
  const auto train = data::list_shards(dir, "train");
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[0].tokens, 1000);
  EXPECT_EQ(train[2].tokens, 500);

  const nlohmann::json ref = reference_read(dir, tmp.path().string());
  const auto& t = ref["train"];
  ASSERT_EQ(t["files"].size(), 3u);
  EXPECT_EQ(t["files"][1]["name"], "train_000001.bin");
  EXPECT_EQ(t["files"][1]["magic"], 20240520);
  EXPECT_EQ(t["files"][1]["version"], 1);
  EXPECT_EQ(t["files"][2]["count"], 500);
  EXPECT_EQ(t["tokens"], 2500);
  uint64_t weighted = 0;
  for (int64_t i = 0; i < 2500; ++i) weighted += static_cast<uint64_t>(i + 1) * closed_form(i);
  EXPECT_EQ(t["weighted_sum"].get<uint64_t>(), weighted);
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(t["head"][i], closed_form(i));
    EXPECT_EQ(t["tail"][i], closed_form(2492 + i));
  }
  EXPECT_EQ(ref["val"]["tokens"], 300);
}

TEST(TokenShards, StreamWindowsWrapAndResume) {
  TempDir tmp("shards_stream");
  const std::string dir = tmp / "s";
  write_closed_form(dir, "train", 1000, 300);  // shards of 300, 300, 300, 100
  const int64_t B = 3, T = 16, total = 1000;
  data::ShardStream s(data::list_shards(dir, "train"), B, T);
  nlohmann::json saved;
  std::vector<data::Batch> after;
  for (int64_t k = 0; k < 30; ++k) {  // 30 × 48 tokens: wraps once
    if (k == 17) saved = s.position();
    const data::Batch b = s.next();
    if (k >= 17) after.push_back(b);
    for (int64_t w = 0; w < B; ++w)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = (k * B * T + w * T + t) % total;
        ASSERT_EQ(b.ids[w * T + t], closed_form(pos)) << k << " " << w << " " << t;
        ASSERT_EQ(b.targets[w * T + t], closed_form((pos + 1) % total));
      }
  }
  data::ShardStream r(data::list_shards(dir, "train"), B, T);
  r.restore(saved);
  for (const data::Batch& b : after) EXPECT_EQ(r.next().ids, b.ids);
  EXPECT_EQ(r.position()["epoch"], 1);

  // A damaged header names the file.
  std::fstream f(dir + "/train_000001.bin", std::ios::in | std::ios::out | std::ios::binary);
  const int32_t bad = 7;
  f.write(reinterpret_cast<const char*>(&bad), 4);
  f.close();
  try {
    data::list_shards(dir, "train");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train_000001.bin: not a token shard"), std::string::npos)
        << e.what();
  }
}

TEST(TokenShards, PrepareHoldsTheTokenizersIds) {
  TempDir tmp("shards_prepare");
  testing::write_corpus(tmp / "corpus", 1, 30);
  const std::string file = tmp / "corpus/mod000.py";
  const RunResult tok = run_cli("tokenize --file " + file, tmp.path().string());
  ASSERT_EQ(tok.status, 0) << tok.err;
  std::vector<int64_t> ids;
  std::istringstream in(tok.out);
  for (int64_t id; in >> id;) ids.push_back(id);
  ids.push_back(50256);

  const RunResult r =
      run_cli(fmt::format("prepare --data {} --out {} --val-fraction 0 --shard-tokens 100", file,
                          tmp / "s"),
              tmp.path().string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;  // the progress bar
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  const nlohmann::json ref = reference_read(tmp / "s", tmp.path().string());
  const auto& t = ref["train"];
  ASSERT_EQ(t["tokens"].get<size_t>(), ids.size());
  EXPECT_EQ(t["files"].size(), (ids.size() + 99) / 100);
  EXPECT_EQ(t["eot"], 1);
  uint64_t weighted = 0;
  for (size_t i = 0; i < ids.size(); ++i) weighted += (i + 1) * static_cast<uint64_t>(ids[i]);
  EXPECT_EQ(t["weighted_sum"].get<uint64_t>(), weighted);
  EXPECT_EQ(ref["val"]["tokens"], 0);
}

// Peak RSS of a short training run on 50 M tokens of shards vs 1 M: equal within a few MiB.
TEST(TokenShards, TrainingMemoryDoesNotGrowWithTheCorpus) {
  TempDir tmp("shards_rss");
  write_file(tmp / "config.json", R"({
    "vocab_size": 512, "ctx_len": 32, "n_embd": 32, "n_head": 2, "n_layer": 1,
    "attention_types": ["FULL"], "types": ["mlp"],
    "train": {"batch_size": 4, "max_iters": 3, "warmup_iters": 1, "eval_interval": 3,
              "eval_iters": 1, "checkpoint_interval": 3}})");
  auto peak = [&](const std::string& name, int64_t tokens) {
    write_closed_form(tmp / name, "train", tokens, data::kMaxShardTokens / 4, 512);
    write_closed_form(tmp / name, "val", 10000, data::kMaxShardTokens, 512);
    const RunResult r = run_cli(fmt::format("-t 1 train --config {} --data {} --out {}",
                                            tmp / "config.json", tmp / name, tmp / (name + "_run")),
                                tmp.path().string());
    EXPECT_EQ(r.status, 0) << r.err;
    const size_t at = r.out.find("peak RSS ");
    EXPECT_NE(at, std::string::npos) << r.out;
    return at == std::string::npos ? -1.0 : std::strtod(r.out.c_str() + at + 9, nullptr);
  };
  const double small = peak("m1", 1'000'000), large = peak("m50", 50'000'000);
  EXPECT_GT(small, 0);
  EXPECT_LT(std::abs(large - small), 8.0) << "1 M tokens: " << small << " MiB, 50 M: " << large;
}

}  // namespace tinyr2::train
