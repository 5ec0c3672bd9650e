// Corpus and TokenBuffer: sources (directories, text files, JSONL), binary/non-UTF-8 files
// skipped and counted, a split that depends only on document keys, windows that are
// consecutive and advance by T, seeded shuffles, and bit-exact save/restore of the position.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/corpus.h"
#include "data/token_buffer.h"
#include "data/tokenizer.h"
#include "support/cli.h"

namespace tinyr2::data {

namespace {

namespace fs = std::filesystem;

const Tokenizer& tokenizer() {
  static const Tokenizer tok = Tokenizer::load();
  return tok;
}

// A fresh temporary directory $TMPDIR/tinyr2_corpus_<name>_<pid>, removed at the end of the
// test; write() creates the parent directories.
class TempDir : public tinyr2::testing::TempDir {
 public:
  explicit TempDir(const std::string& name) : tinyr2::testing::TempDir("corpus_" + name) {}
  void write(const std::string& rel, const std::string& bytes) const {
    tinyr2::testing::write_file(*this / rel, bytes);
  }
};

std::vector<std::string> keys(const std::vector<Document>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.key);
  return out;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no tinyr2::Error";
  return "";
}

// Documents "doc NUMBER: words..." of varied lengths.
std::vector<Document> small_corpus(const TempDir& dir, int n) {
  std::string words;
  for (int i = 0; i < n; ++i) {
    // fmt, not operator+ chains: on those g++ 12 -O3 warns (-Wrestrict, a false positive).
    words += fmt::format(" word{}", i);
    dir.write(fmt::format("d{}.txt", 100 + i), fmt::format("doc {}:{}", i, words));
  }
  return Corpus::scan({dir.path().string()}, {"", 0.0}).train();
}

}  // namespace

// ---- sources -------------------------------------------------------------------------------

TEST(Corpus, ReadsDirectoriesFilesAndJsonl) {
  TempDir dir("sources");
  dir.write("pkg/a.py", "print('a')\n");
  dir.write("pkg/sub/b.py", "x = 1\n");
  dir.write("notes.txt", "some notes\n");
  dir.write("empty.py", "");
  dir.write("data.jsonl",
            "{\"text\": \"first\", \"id\": 1}\n\n{\"text\": \"second\\nline\"}\n{\"text\": \"\"}");
  dir.write(".hidden/c.py", "hidden = True\n");
  dir.write(".dotfile", "hidden too\n");
  const Corpus c = Corpus::scan({dir.path().string()}, {"", 0.0});
  EXPECT_TRUE(c.val().empty());
  EXPECT_EQ(keys(c.train()),
            (std::vector<std::string>{"data.jsonl:0", "data.jsonl:2", "data.jsonl:3", "empty.py",
                                      "notes.txt", "pkg/a.py", "pkg/sub/b.py"}));
  EXPECT_EQ(c.num_files(), 5);
  EXPECT_EQ(c.skipped_files(), 0);
  std::map<std::string, std::string> text;
  for (const auto& d : c.train()) text[d.key] = read_document(d);
  EXPECT_EQ(text["data.jsonl:0"], "first");
  EXPECT_EQ(text["data.jsonl:2"], "second\nline");
  EXPECT_EQ(text["data.jsonl:3"], "");
  EXPECT_EQ(text["pkg/a.py"], "print('a')\n");
  EXPECT_EQ(text["empty.py"], "");

  // A glob on file names; a file given directly; a JSONL file given directly.
  const Corpus py = Corpus::scan({dir.path().string()}, {"*.py", 0.0});
  EXPECT_EQ(keys(py.train()), (std::vector<std::string>{"empty.py", "pkg/a.py", "pkg/sub/b.py"}));
  const Corpus files = Corpus::scan(
      {(dir.path() / "notes.txt").string(), (dir.path() / "data.jsonl").string()}, {"", 0.0});
  EXPECT_EQ(keys(files.train()), (std::vector<std::string>{"notes.txt", "data.jsonl:0",
                                                           "data.jsonl:2", "data.jsonl:3"}));
  EXPECT_NE(c.summary().find("7 documents (7 train, 0 val) from 5 files"), std::string::npos)
      << c.summary();
}

TEST(Corpus, SkipsBinaryAndNonUtf8FilesWithACount) {
  TempDir dir("binary");
  dir.write("good.py", "ok = 'é'\n");
  dir.write("nul.bin", std::string("abc\0def", 7));
  dir.write("latin1.py", "caf\xE9\n");         // Latin-1, not UTF-8
  dir.write("truncated.txt", "\xE4\xB8");      // a cut multi-byte sequence
  dir.write("surrogate.txt", "\xED\xA0\x80");  // an encoded surrogate
  const Corpus c = Corpus::scan({dir.path().string()}, {"", 0.0});
  EXPECT_EQ(keys(c.train()), (std::vector<std::string>{"good.py"}));
  EXPECT_EQ(c.skipped_files(), 4);
  EXPECT_NE(c.summary().find("4 binary or non-UTF-8 files skipped"), std::string::npos);
}

TEST(Corpus, ErrorsNameThePath) {
  TempDir dir("errors");
  const std::string missing = (dir.path() / "nope").string();
  std::string msg = expect_error([&] { Corpus::scan({missing}); });
  EXPECT_NE(msg.find("data path not found: " + missing), std::string::npos) << msg;

  fs::create_directories(dir.path() / "empty");
  const std::string empty = (dir.path() / "empty").string();
  msg = expect_error([&] { Corpus::scan({empty}); });
  EXPECT_NE(msg.find("no documents found under " + empty), std::string::npos) << msg;

  dir.write("only_binary/x.bin", std::string(10, '\0'));
  msg = expect_error([&] { Corpus::scan({(dir.path() / "only_binary").string()}); });
  EXPECT_NE(msg.find("no documents found under"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1 binary or non-UTF-8 files skipped"), std::string::npos) << msg;

  dir.write("bad/a.jsonl", "{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n");
  msg = expect_error([&] { Corpus::scan({(dir.path() / "bad").string()}); });
  EXPECT_NE(msg.find("a.jsonl:2"), std::string::npos) << msg;
  dir.write("bad/a.jsonl", "{\"text\": \"fine\"}\n{not json\n");
  msg = expect_error([&] { Corpus::scan({(dir.path() / "bad").string()}); });
  EXPECT_NE(msg.find("a.jsonl:2"), std::string::npos) << msg;

  msg = expect_error([&] { Corpus::scan({dir.path().string()}, {"", 1.0}); });
  EXPECT_NE(msg.find("val_fraction"), std::string::npos) << msg;
}

// ---- the split -----------------------------------------------------------------------------

TEST(Corpus, SplitDependsOnlyOnKeys) {
  // A golden value: the split must never change between versions or machines.
  EXPECT_DOUBLE_EQ(split_value("json/decoder.py"), 0.8221119715495714);  // checked in Python
  EXPECT_NE(split_value("a.py"), split_value("b.py"));

  // The same files, created in opposite orders under different roots: the same split.
  TempDir one("split1"), two("split2");
  const int n = 200;
  for (int i = 0; i < n; ++i) one.write(fmt::format("m{}/f{}.py", i % 7, i), "x\n");
  for (int i = n - 1; i >= 0; --i) two.write(fmt::format("m{}/f{}.py", i % 7, i), "x\n");
  const Corpus a = Corpus::scan({one.path().string()}, {"", 0.2});
  const Corpus b = Corpus::scan({two.path().string()}, {"", 0.2});
  EXPECT_EQ(keys(a.val()), keys(b.val()));
  EXPECT_EQ(keys(a.train()), keys(b.train()));
  EXPECT_EQ(a.train().size() + a.val().size(), static_cast<size_t>(n));
  EXPECT_GT(a.val().size(), 20u);  // ~40 expected
  EXPECT_LT(a.val().size(), 60u);
  for (const auto& d : a.val()) EXPECT_LT(split_value(d.key), 0.2) << d.key;
  for (const auto& d : a.train()) EXPECT_GE(split_value(d.key), 0.2) << d.key;
  // Growing the fraction only moves documents from train to val.
  const Corpus c = Corpus::scan({one.path().string()}, {"", 0.4});
  const auto val_c = keys(c.val());
  for (const auto& k : keys(a.val()))
    EXPECT_NE(std::find(val_c.begin(), val_c.end(), k), val_c.end()) << k;
}

TEST(Corpus, SmallCorporaKeepBothSidesNonEmpty) {
  TempDir dir("tiny");
  dir.write("a.txt", "alpha\n");
  dir.write("b.txt", "beta\n");
  const Corpus c = Corpus::scan({dir.path().string()}, {"", 0.05});
  EXPECT_EQ(c.train().size(), 1u);
  EXPECT_EQ(c.val().size(), 1u);
  const Corpus none = Corpus::scan({dir.path().string()}, {"", 0.0});
  EXPECT_EQ(none.train().size(), 2u);
  EXPECT_TRUE(none.val().empty());
}

// ---- the token buffer ----------------------------------------------------------------------

TEST(TokenBuffer, WindowsAreConsecutiveAndAdvanceByT) {
  TempDir dir("windows");
  const auto docs = small_corpus(dir, 9);
  const Tokenizer& tok = tokenizer();
  // One epoch's stream, in some order: every document's tokens + EOT.
  std::multiset<std::string> expected_docs;
  int64_t epoch_tokens = 0;
  for (const auto& d : docs) {
    expected_docs.insert(read_document(d));
    epoch_tokens += static_cast<int64_t>(tok.encode(read_document(d)).size()) + 1;
  }
  const int64_t B = 3, T = 7;
  TokenBuffer buf(docs, tok, B, T, 42);
  std::vector<int32_t> stream;  // window k's ids sit at stream[k*T ...]
  std::vector<int32_t> last_targets;
  while (static_cast<int64_t>(stream.size()) < 2 * epoch_tokens + 1) {
    const Batch batch = buf.next();
    ASSERT_EQ(batch.B, B);
    ASSERT_EQ(batch.T, T);
    ASSERT_EQ(batch.ids.size(), static_cast<size_t>(B * T));
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* ids = batch.ids.data() + b * T;
      const int32_t* tg = batch.targets.data() + b * T;
      for (int64_t t = 0; t + 1 < T; ++t) ASSERT_EQ(tg[t], ids[t + 1]);  // shifted by one
      // The window starts where the previous one's last target is: they advance by T.
      if (!last_targets.empty()) {
        ASSERT_EQ(ids[0], last_targets.back());
      }
      last_targets.assign(tg, tg + T);
      stream.insert(stream.end(), ids, ids + T);
    }
  }
  // Each epoch is a permutation of the documents, each followed by <|endoftext|>.
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<int32_t> part(stream.begin() + epoch * epoch_tokens,
                                    stream.begin() + (epoch + 1) * epoch_tokens);
    ASSERT_EQ(part.back(), tok.eot());
    std::multiset<std::string> got;
    std::vector<int32_t> cur;
    for (int32_t id : part) {
      if (id == tok.eot()) {
        got.insert(tok.decode(cur));
        cur.clear();
      } else {
        cur.push_back(id);
      }
    }
    EXPECT_EQ(got, expected_docs) << "epoch " << epoch;
  }
}

TEST(TokenBuffer, ShuffleIsSeeded) {
  TempDir dir("shuffle");
  const auto docs = small_corpus(dir, 12);
  auto first_batches = [&](uint64_t seed) {
    TokenBuffer buf(docs, tokenizer(), 2, 16, seed);
    std::vector<int32_t> all;
    for (int i = 0; i < 6; ++i) {
      const Batch b = buf.next();
      all.insert(all.end(), b.ids.begin(), b.ids.end());
    }
    return all;
  };
  EXPECT_EQ(first_batches(1), first_batches(1));
  EXPECT_NE(first_batches(1), first_batches(2));
  // Consecutive epochs visit the documents in different orders (T = 1: ids are the stream).
  TokenBuffer buf(docs, tokenizer(), 1, 1, 5);
  std::vector<std::string> order;
  std::vector<int32_t> cur;
  while (order.size() < 2 * docs.size()) {
    const int32_t id = buf.next().ids[0];
    if (id != tokenizer().eot()) {
      cur.push_back(id);
      continue;
    }
    order.push_back(tokenizer().decode(cur));
    cur.clear();
  }
  const std::vector<std::string> epoch0(order.begin(), order.begin() + docs.size());
  const std::vector<std::string> epoch1(order.begin() + docs.size(), order.end());
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(std::multiset<std::string>(epoch0.begin(), epoch0.end()),
            std::multiset<std::string>(epoch1.begin(), epoch1.end()));
}

TEST(TokenBuffer, SaveAndRestoreGiveIdenticalBatches) {
  TempDir dir("resume");
  const auto docs = small_corpus(dir, 5);  // small: the batches below cross epochs
  const Tokenizer& tok = tokenizer();
  for (const int skip : {0, 1, 3, 11}) {
    TokenBuffer a(docs, tok, 2, 9, 1337);
    for (int i = 0; i < skip; ++i) a.next();
    const BufferPosition saved = a.position();
    const nlohmann::json j = saved.to_json();
    const BufferPosition loaded = BufferPosition::from_json(nlohmann::json::parse(j.dump()));
    EXPECT_EQ(loaded, saved);
    std::vector<Batch> expected;
    for (int i = 0; i < 8; ++i) expected.push_back(a.next());
    EXPECT_GT(a.position().epoch, saved.epoch);

    TokenBuffer b(docs, tok, 2, 9, /*seed: replaced by the saved one*/ 99);
    b.restore(loaded);
    EXPECT_EQ(b.position(), saved);
    for (int i = 0; i < 8; ++i) {
      const Batch got = b.next();
      EXPECT_EQ(got.ids, expected[i].ids) << "skip " << skip << " batch " << i;
      EXPECT_EQ(got.targets, expected[i].targets) << "skip " << skip << " batch " << i;
    }
  }
}

TEST(TokenBuffer, RestoreRejectsOtherDataAndBadPositions) {
  TempDir dir("reject");
  const auto docs = small_corpus(dir, 4);
  TokenBuffer a(docs, tokenizer(), 1, 4, 3);
  a.next();
  const BufferPosition pos = a.position();
  auto fewer = docs;
  fewer.pop_back();
  TokenBuffer b(fewer, tokenizer(), 1, 4, 3);
  EXPECT_NE(expect_error([&] { b.restore(pos); }).find("differ"), std::string::npos);
  BufferPosition bad = pos;
  bad.token_offset = 100000;
  EXPECT_NE(expect_error([&] { a.restore(bad); }).find("out of range"), std::string::npos);
  bad = pos;
  bad.doc_cursor = 4;
  EXPECT_NE(expect_error([&] { a.restore(bad); }).find("out of range"), std::string::npos);
  EXPECT_THROW(BufferPosition::from_json(nlohmann::json{{"seed", 1}}), Error);
  EXPECT_THROW(TokenBuffer({}, tokenizer(), 1, 4, 3), Error);
  EXPECT_THROW(TokenBuffer(docs, tokenizer(), 0, 4, 3), Error);
}

TEST(TokenBuffer, FixedBatchesAreDeterministic) {
  TempDir dir("fixed");
  const auto docs = small_corpus(dir, 6);
  const auto x = fixed_batches(docs, tokenizer(), 2, 8, 7, 4);
  const auto y = fixed_batches(docs, tokenizer(), 2, 8, 7, 4);
  ASSERT_EQ(x.size(), 4u);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].ids, y[i].ids);
    EXPECT_EQ(x[i].targets, y[i].targets);
  }
  TokenBuffer buf(docs, tokenizer(), 2, 8, 7);
  EXPECT_EQ(buf.next().ids, x[0].ids);
}

}  // namespace tinyr2::data
