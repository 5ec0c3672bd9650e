// GPT-2 tokenizer: ids equal to the npm references (tiktoken's WASM build, js-tiktoken,
// gpt-3-encoder, run by node through tests/data/tokenizer_oracle.js) on code, CJK, emoji,
// whitespace runs, contractions, numbers, mixed scripts, real stdlib files and random
// strings; the byte-level rule for invalid UTF-8; round trips of random bytes; errors.
//
// The npm packages are installed by scripts/setup into $TINYR2_HOME/npm (TINYR2_HOME
// defaults to ~/.cache/tinyr2). Without node the oracle tests are skipped; with node but
// without the packages they fail, naming scripts/setup.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "data/tokenizer.h"

namespace tinyr2::data {

namespace {

namespace fs = std::filesystem;

const Tokenizer& tokenizer() {
  static const Tokenizer tok = Tokenizer::load();
  return tok;
}

std::string tinyr2_home() {
  const char* home = std::getenv("TINYR2_HOME");
  if (home && *home) return home;
  const char* user = std::getenv("HOME");
  return (fs::path(user ? user : ".") / ".cache" / "tinyr2").string();
}

bool have_node() {
  return std::system("node --version >/dev/null 2>&1") == 0;
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v =
        (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kAlphabet[(v >> (6 * k)) & 63]);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// Runs the node oracle on the inputs; `quick` asks for tiktoken's ids only.
nlohmann::json run_oracle(const std::vector<std::string>& inputs, bool quick = false) {
  const std::string prefix = (fs::path(tinyr2_home()) / "npm").string();
  for (const char* pkg : {"tiktoken", "js-tiktoken", "gpt-3-encoder"})
    if (!fs::exists(fs::path(prefix) / "node_modules" / pkg / "package.json"))
      throw Error("npm package " + std::string(pkg) + " is not in " + prefix +
                  "/node_modules: run scripts/setup");
  const fs::path dir = fs::temp_directory_path() /
                       ("tinyr2_tok_oracle_" + std::to_string(::getpid()) + "_" +
                        std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  fs::create_directories(dir);
  nlohmann::json in = nlohmann::json::array();
  for (const auto& s : inputs) {
    if (quick)
      in.push_back({{"b64", base64(s)}, {"quick", true}});
    else
      in.push_back(base64(s));
  }
  std::ofstream(dir / "in.json") << in.dump();
  const std::string cmd = "node '" TINYR2_SOURCE_DIR "/tests/data/tokenizer_oracle.js' '" + prefix +
                          "' '" + (dir / "in.json").string() + "' '" + (dir / "out.json").string() +
                          "'";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) throw Error("oracle failed (" + std::to_string(rc) + "): " + cmd);
  std::ifstream out(dir / "out.json");
  nlohmann::json result = nlohmann::json::parse(out);
  fs::remove_all(dir);
  return result;
}

std::vector<int32_t> ids_of(const nlohmann::json& j) {
  return j.get<std::vector<int32_t>>();
}

// Printable description of an input for failure messages (escapes non-ASCII bytes).
std::string describe(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 160; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F)
      out.push_back(static_cast<char>(c));
    else
      out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
  }
  if (s.size() > 160) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
  } else if (cp < 0x10000) {
    s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
          static_cast<char>(0x80 | (cp & 0x3F))};
  } else {
    s += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
          static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
  }
  return s;
}

// The JavaScript ports use JavaScript's \s, which differs from tiktoken's (Unicode
// White_Space) on U+0085 and U+FEFF only; inputs holding those are compared with tiktoken.
bool has_js_whitespace_difference(const std::string& s) {
  return s.find("\xC2\x85") != std::string::npos || s.find("\xEF\xBB\xBF") != std::string::npos;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- the test corpus ---------------------------------------------------------------------

std::vector<std::string> handwritten_inputs() {
  std::vector<std::string> v = {
      "",
      "Hello world",
      "hello world\n",
      "def f(x):\n    return x ** 2  # square\n\n\nclass A(B):\n\tpass\r\n",
      "    if __name__ == \"__main__\":\n        main()\n",
      "for (int i = 0; i < n; ++i) { a[i] += b[i] * 3.14f; }  // C++\n",
      "I'll don't 'S 's 'll 've 're 'd 'm 't it's He'S ''s '''ll '",
      "we'VE they'RE 'LL x'sy 'Ss 'ss",
      "12345678901234567890 3.14159 1e-10 0x1F -42 +7 1,000,000 ١٢٣ ٣٤٥ Ⅻ ½ ²³ ⅞",
      "中文分词测试：你好，世界！這是繁體中文。日本語のテキスト、カタカナ。한국어 텍스트입니다.",
      "😀 😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨✨✨ 🙂🙃",
      "Ελληνικά Русский язык עברית العربية हिन्दी ภาษาไทย Tiếng Việt ქართული Ֆ",
      "e\xCC\x81 a\xCC\x8A n\xCC\x83 combining: \xCC\x81\xCC\x81 alone",
      std::string(1000, ' '),
      std::string(1000, ' ') + "x",
      std::string(513, '\n') + "y" + std::string(200, '\t'),
      " \t \n \r\n  \n\n\n    \t\t x \n",
      "a  b   c    d     e      f\n\n  \n",
      std::string(300, 'a'),
      std::string(300, '9'),
      std::string(300, '!'),
      "<|endoftext|>",
      "text<|endoftext|>more <|endoftext|><|endoftext|> end",
      "<|endoftext|",
      "nbsp\xC2\xA0here\xC2\xA0\xC2\xA0 ideographic\xE3\x80\x80space line\xE2\x80\xA8sep",
      " \xC2\x85x a\xC2\x85  b \xEF\xBB\xBFx x\xEF\xBB\xBF  y",  // U+0085, U+FEFF
      "zero\xE2\x80\x8Bwidth\xE2\x80\x8C joiners\xE2\x80\x8D",
      "\x01\x02\x03\x7F control \x1B[31mred\x1B[0m \x1C\x1D\x1E\x1F",
      "\xEF\xBF\xBD replacement \xEF\xBF\xBE\xEF\xBF\xBF nonchar \xF4\x8F\xBF\xBF max",
      "https://example.com/path?q=1&r=%20#frag user@example.org",
      "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
      "SELECT * FROM t WHERE x > 0 AND y <> 'z';",
      "mixedCaseIdentifier snake_case_name CONSTANT_VALUE __dunder__ _private",
      "£€¥ ©®™ §¶ «» ¿¡ ‘’ “” … — –",
      "ÀÉÎÕÜ àéîõü Ææ Œœ ß ẞ İı ſ",
      "tab\tseparated\tvalues\n1\t2\t3\n",
      "\n",
      " ",
      "'",
      "'s",
      "x ",
      " x",
  };
  return v;
}

// Real source files from the first /usr/lib/python3.X found (small ones: gpt-3-encoder is
// quadratic in the length of a text).
std::vector<std::string> stdlib_inputs() {
  std::vector<std::string> out;
  for (const char* dir : {"/usr/lib/python3.11", "/usr/lib/python3.12", "/usr/lib/python3.13"}) {
    for (const char* name : {"textwrap.py", "json/decoder.py", "this.py", "string.py", "keyword.py",
                             "colorsys.py", "heapq.py", "fnmatch.py", "bisect.py", "abc.py"}) {
      const fs::path p = fs::path(dir) / name;
      if (fs::is_regular_file(p)) out.push_back(read_file(p));
    }
    if (!out.empty()) break;
  }
  return out;
}

// Random strings of "atoms" chosen to stress the pre-tokenizer's boundaries.
std::vector<std::string> random_valid_inputs(int count, uint64_t seed) {
  const std::vector<std::string> atoms = {"a",
                                          "b",
                                          "Z",
                                          "s",
                                          "t",
                                          "ll",
                                          "re",
                                          "ve",
                                          "d",
                                          "m",
                                          "'",
                                          "'",
                                          " ",
                                          " ",
                                          " ",
                                          "  ",
                                          "\n",
                                          "\t",
                                          "\r\n",
                                          "\v",
                                          "\f",
                                          "0",
                                          "7",
                                          "42",
                                          ".",
                                          ",",
                                          "!",
                                          "?",
                                          "-",
                                          "_",
                                          "(",
                                          ")",
                                          "{",
                                          "#",
                                          "\"",
                                          "\\",
                                          "/",
                                          "中",
                                          "文",
                                          "の",
                                          "한",
                                          "😀",
                                          "👍🏽",
                                          "e\xCC\x81",
                                          "\xCC\x81",
                                          "٣",
                                          "Ⅻ",
                                          "½",
                                          "²",
                                          "\xC2\xA0",
                                          "\xE3\x80\x80",
                                          "\xE2\x80\xA8",
                                          "\xE2\x80\x8B",
                                          "ß",
                                          "İ",
                                          "Ω",
                                          "ж",
                                          "א",
                                          "ع",
                                          "ह",
                                          "ि",
                                          "ก",
                                          "ア",
                                          "<|endoftext|>",
                                          std::string(1, '\0'),
                                          "\x7F",
                                          "\xF4\x8F\xBF\xBF",
                                          "\xEF\xBF\xBD",
                                          "\xC2\x85",
                                          "\xEF\xBB\xBF",
                                          "\xE1\xA0\x8E"};
  Rng rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string s;
    const uint64_t n = 1 + rng.next_below(40);
    for (uint64_t k = 0; k < n; ++k) s += atoms[rng.next_below(atoms.size())];
    out.push_back(std::move(s));
  }
  return out;
}

// Random byte strings that are mostly not UTF-8: raw bytes, truncated and overlong sequences,
// surrogates, code points above U+10FFFF, mixed with text.
std::vector<std::string> random_invalid_inputs(int count, uint64_t seed) {
  const std::vector<std::string> atoms = {"\x80",
                                          "\xBF",
                                          "\xC0\xAF",
                                          "\xC1\xBF",
                                          "\xC2",
                                          "\xE4\xB8",
                                          "\xE4",
                                          "\xF0\x9F\x98",
                                          "\xED\xA0\x80",
                                          "\xED\xBF\xBF",
                                          "\xF4\x90\x80\x80",
                                          "\xF5",
                                          "\xFF",
                                          "\xFE",
                                          "\xE0\x80\x80",
                                          "\xF0\x80\x80\x80",
                                          "a",
                                          " ",
                                          "  ",
                                          "'",
                                          "s",
                                          "1",
                                          "中",
                                          "😀",
                                          "\n",
                                          "!",
                                          "\xC2\xA0",
                                          "\xEF\xBF\xBD",
                                          "x y"};
  Rng rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string s;
    const uint64_t n = 1 + rng.next_below(30);
    for (uint64_t k = 0; k < n; ++k) {
      if (rng.next_below(4) == 0)
        s.push_back(static_cast<char>(rng.next_below(256)));
      else
        s += atoms[rng.next_below(atoms.size())];
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

// ---- loading and basics ------------------------------------------------------------------

TEST(Tokenizer, LoadsGpt2Vocabulary) {
  const Tokenizer& tok = tokenizer();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eot(), 50256);
  EXPECT_EQ(tok.token_bytes(50256), "<|endoftext|>");
  EXPECT_EQ(tok.token_bytes(0), "!");
  EXPECT_EQ(tok.token_bytes(220), " ");
  EXPECT_EQ(tok.token_bytes(198), "\n");
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tok.decode({15496, 995, 50256}), "Hello world<|endoftext|>");
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_EQ(tok.decode({}), "");
}

TEST(Tokenizer, EndOfTextIsOrdinaryTextUnlessAllowed) {
  const Tokenizer& tok = tokenizer();
  const std::vector<int32_t> ordinary = tok.encode("a<|endoftext|>b");
  EXPECT_EQ(std::count(ordinary.begin(), ordinary.end(), 50256), 0);
  EXPECT_EQ(tok.decode(ordinary), "a<|endoftext|>b");
  const std::vector<int32_t> special = tok.encode("a<|endoftext|>b", /*allow_special=*/true);
  std::vector<int32_t> expected = tok.encode("a");
  expected.push_back(50256);
  for (int32_t id : tok.encode("b")) expected.push_back(id);
  EXPECT_EQ(special, expected);
  EXPECT_EQ(tok.decode(special), "a<|endoftext|>b");
  EXPECT_EQ(tok.encode("<|endoftext|><|endoftext|>", true), (std::vector<int32_t>{50256, 50256}));
}

// U+0085 is whitespace for tiktoken (Rust regex: \s = White_Space) but not for JavaScript's
// \s; U+FEFF the other way round. These ids are tiktoken's (npm tiktoken@1.0.22).
TEST(Tokenizer, WhitespaceIsUnicodeWhiteSpaceAsInTiktoken) {
  const Tokenizer& tok = tokenizer();
  EXPECT_EQ(tok.encode(" \xC2\x85x"), (std::vector<int32_t>{220, 126, 227, 87}));
  EXPECT_EQ(tok.encode(" \xEF\xBB\xBFx"), (std::vector<int32_t>{27332, 119, 123, 87}));
}

TEST(Tokenizer, MissingVocabularySaysHowToFetchIt) {
  try {
    Tokenizer::load("/nonexistent/tinyr2-vocab");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/nonexistent/tinyr2-vocab/encoder.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("scripts/setup"), std::string::npos) << msg;
  }
}

TEST(Tokenizer, MalformedVocabularyIsAnError) {
  const fs::path dir =
      fs::temp_directory_path() / ("tinyr2_bad_vocab_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(default_tokenizer_dir()) / "vocab.bpe", dir / "vocab.bpe",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir / "encoder.json") << "{\"a\": 0, \"b\": 1}";
  EXPECT_THROW(Tokenizer::load(dir.string()), Error);
  std::ofstream(dir / "encoder.json") << "not json";
  EXPECT_THROW(Tokenizer::load(dir.string()), Error);
  fs::remove_all(dir);
}

TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
  EXPECT_THROW(tokenizer().decode({1, -1}), Error);
  EXPECT_THROW(tokenizer().decode({50257}), Error);
}

// ---- equality with the references --------------------------------------------------------

TEST(Tokenizer, MatchesNpmReferences) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  std::vector<std::string> inputs = handwritten_inputs();
  const auto stdlib = stdlib_inputs();
  ASSERT_FALSE(stdlib.empty()) << "no Python stdlib found under /usr/lib/python3.*";
  inputs.insert(inputs.end(), stdlib.begin(), stdlib.end());
  const auto random = random_valid_inputs(400, 7);
  inputs.insert(inputs.end(), random.begin(), random.end());

  const nlohmann::json ref = run_oracle(inputs);
  ASSERT_EQ(ref.size(), inputs.size());
  const Tokenizer& tok = tokenizer();
  int compared_js = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i) + ": " + describe(inputs[i]));
    ASSERT_TRUE(ref[i]["valid"].get<bool>());
    const std::vector<int32_t> ids = tok.encode(inputs[i]);
    EXPECT_EQ(ids, ids_of(ref[i]["tiktoken"])) << "tiktoken";
    EXPECT_EQ(tok.encode(inputs[i], true), ids_of(ref[i]["tiktoken_special"]))
        << "tiktoken, special allowed";
    if (!has_js_whitespace_difference(inputs[i])) {
      EXPECT_EQ(ids, ids_of(ref[i]["js_tiktoken"])) << "js-tiktoken";
      EXPECT_EQ(ids, ids_of(ref[i]["gpt3"])) << "gpt-3-encoder";
      ++compared_js;
    }
    EXPECT_EQ(tok.decode(ids), inputs[i]);
  }
  EXPECT_GT(compared_js, 200);
}

// Invalid UTF-8: each invalid byte splits like U+FFFD and maps through as its own byte; the
// oracle computes that rule independently (and checks it equals tiktoken on valid text).
TEST(Tokenizer, InvalidUtf8FollowsTheByteRule) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  const auto inputs = random_invalid_inputs(400, 11);
  const nlohmann::json ref = run_oracle(inputs);
  const Tokenizer& tok = tokenizer();
  int invalid = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i) + ": " + describe(inputs[i]));
    const std::vector<int32_t> ids = tok.encode(inputs[i]);
    EXPECT_EQ(ids, ids_of(ref[i]["bytes"]));
    EXPECT_EQ(tok.decode(ids), inputs[i]);
    invalid += !ref[i]["valid"].get<bool>();
  }
  EXPECT_GT(invalid, 300);
}

// Every assigned code point (and samples of the unassigned and private-use planes) in
// letter, digit, space and contraction contexts, against tiktoken: the classes \p{L}, \p{N}
// and White_Space agree, including the letters and numbers of Unicode 15-16 that the
// pattern lists because Debian 12's PCRE2 (Unicode 14 tables) does not know them.
TEST(Tokenizer, EveryCodePointMatchesTiktoken) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  std::vector<std::string> inputs;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  constexpr uint32_t kChunk = 4096;
  for (uint32_t lo = 0; lo <= 0x10FFFF; lo += kChunk) {
    // Planes 4-13 are unassigned and 15-16 private use: their first chunks suffice.
    if (lo >= 0x40000 && lo < 0xE0000 && (lo & 0xFFFF) != 0) continue;
    if (lo >= 0xF0000 && (lo & 0xFFFF) != 0 && (lo & 0xFFFF) != 0xF000) continue;
    std::string s;
    for (uint32_t cp = lo; cp < lo + kChunk; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const std::string c = utf8(cp);
      s += "a" + c + "a 1" + c + "1 " + c + "  " + c + c + "'s\n";
    }
    inputs.push_back(std::move(s));
    ranges.emplace_back(lo, lo + kChunk);
  }
  const nlohmann::json ref = run_oracle(inputs, /*quick=*/true);
  const Tokenizer& tok = tokenizer();
  int differing_chunks = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (tok.encode(inputs[i]) != ids_of(ref[i]["tiktoken"])) {
      ++differing_chunks;
      ADD_FAILURE() << "code points " << std::hex << ranges[i].first << ".." << ranges[i].second
                    << " encode differently from tiktoken";
    }
  }
  EXPECT_EQ(differing_chunks, 0);
}

// ---- round trips and threads -------------------------------------------------------------

TEST(Tokenizer, RoundTripsRandomBytes) {
  const Tokenizer& tok = tokenizer();
  Rng rng(123);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng.next_below(200), '\0');
    const uint64_t mode = rng.next_below(3);
    for (auto& c : s) {
      // Uniform bytes; or mostly continuation/lead bytes; or mostly ASCII and spaces.
      const uint64_t r = rng.next_below(256);
      c = static_cast<char>(mode == 0   ? r
                            : mode == 1 ? 0x80 + r % 0x78
                                        : (r < 200 ? " a'1\n"[r % 5] : r));
    }
    const std::vector<int32_t> ids = tok.encode(s);
    ASSERT_EQ(tok.decode(ids), s) << describe(s);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 50256) << id;
  }
  // Long pieces take the heap-based merge path.
  for (const std::string& s : {std::string(5000, ' '), std::string(3000, 'x'),
                               std::string(2000, '\xFF'), std::string(4000, '7')}) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
  }
}

TEST(Tokenizer, EncodeIsThreadSafe) {
  const Tokenizer& tok = tokenizer();
  std::vector<std::string> texts = random_valid_inputs(300, 99);
  const auto invalid = random_invalid_inputs(100, 5);
  texts.insert(texts.end(), invalid.begin(), invalid.end());
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(tok.encode(t));
  // A fresh tokenizer (empty cache) shared by 4 threads encoding the same texts.
  const Tokenizer fresh = Tokenizer::load();
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep)
        for (size_t i = 0; i < texts.size(); ++i)
          mismatches[t] += fresh.encode(texts[(i + t * 37) % texts.size()]) !=
                           expected[(i + t * 37) % texts.size()];
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace tinyr2::data
