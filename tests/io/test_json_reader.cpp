// io::parse_json, the bounded JSON entry point: each limit refuses with one short line, the
// accepted values equal nlohmann's own unbounded parse (the independent reference).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/error.h"
#include "io/json_reader.h"

namespace tinyr2::io {

namespace {

std::string error_of(const std::string& text, const JsonLimits& limits = {}) {
  try {
    parse_json(text, "src", limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_refused(const std::string& text, const std::string& needle,
                    const JsonLimits& limits = {}) {
  const std::string msg = error_of(text, limits);
  EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
  EXPECT_EQ(msg.rfind("src: invalid JSON: ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 400u) << msg;
}

}  // namespace

TEST(JsonReader, AcceptsWhatNlohmannAcceptsAndGivesTheSameValue) {
  for (const char* text :
       {R"({"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615})", "[]",
        " 0 ", R"("\u00e9\ud83d\ude00")", "{\"k\": [[[[[]]]]]}\n\t "}) {
    EXPECT_EQ(parse_json(text, "src"), nlohmann::json::parse(text)) << text;
  }
}

TEST(JsonReader, NestingLimit) {
  const int deep = 100000;
  expect_refused(std::string(deep, '[') + std::string(deep, ']'), "nested deeper than 64 levels");
  expect_refused("{\"a\":" + std::string(deep, '['), "nested deeper than 64 levels");
  JsonLimits l;
  l.max_depth = 3;
  EXPECT_NO_THROW(parse_json("[[[]]]", "src", l));
  expect_refused("[[[[]]]]", "nested deeper than 3 levels", l);
}

TEST(JsonReader, SizeStringAndValueLimits) {
  JsonLimits l;
  l.max_bytes = 100;
  expect_refused(std::string(101, ' '), "101 bytes exceed the limit of 100", l);
  l = {};
  l.max_string = 10;
  EXPECT_NO_THROW(parse_json("\"0123456789\"", "src", l));
  expect_refused("[\"" + std::string(5000, 'a') + "\"]", "a string of 5000 bytes exceeds", l);
  expect_refused("{\"" + std::string(11, 'k') + "\": 1}", "a key of 11 bytes exceeds", l);
  l = {};
  l.max_values = 4;
  EXPECT_NO_THROW(parse_json("[1,2,3]", "src", l));  // the array and 3 numbers
  expect_refused("[1,2,3,4]", "more than 4 values", l);
}

TEST(JsonReader, DuplicateKeysTrailingBytesAndOverflow) {
  expect_refused(R"({"n": 1, "n": 2})", "duplicate key \"n\"");
  expect_refused(R"({"a": {"n": 1, "n": 1}})", "duplicate key \"n\"");
  EXPECT_NO_THROW(parse_json(R"({"a": {"n": 1}, "b": {"n": 1}})", "src"));  // per object
  expect_refused("{} {}", "expected end of input");
  expect_refused("[1] x", "expected end of input");
  expect_refused("1e999", "overflow");
  expect_refused("", "unexpected end of input");
  expect_refused("\"\xff\"", "invalid");
}

TEST(JsonReader, MessagesQuoteAtMostAFewDozenCharacters) {
  // An unterminated 1 MB string: nlohmann's "last read" token would be the whole of it.
  const std::string msg = error_of("[\"" + std::string(1 << 20, 'a'));
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_NE(msg.find("…"), std::string::npos) << msg;
  expect_refused(
      R"({")" + std::string(100000, 'k') + R"(": 1, ")" + std::string(100000, 'k') + R"(": 2})",
      "duplicate key");
}

TEST(JsonReader, Excerpts) {
  EXPECT_EQ(text_excerpt("short"), "short");
  EXPECT_EQ(text_excerpt(std::string(100, 'x'), 10), std::string(10, 'x') + "…");
  // Never cut inside a UTF-8 sequence: "é" is 2 bytes.
  std::string accents;
  for (int i = 0; i < 30; ++i) accents += "é";
  const std::string cut = text_excerpt(accents, 11);
  EXPECT_EQ(cut, std::string(accents, 0, 10) + "…");
  EXPECT_EQ(json_excerpt(nlohmann::json::parse("[1, \"a\"]")), "[1,\"a\"]");
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) big.push_back(i);
  EXPECT_LE(json_excerpt(big).size(), 44u);
  EXPECT_EQ(json_excerpt(big).rfind("[0,1,2,", 0), 0u);
  EXPECT_LE(json_excerpt(std::string(1 << 20, 'q')).size(), 46u);
}

TEST(JsonReader, RandomMutationsNeverEscapeAsAnythingButError) {
  // Property: any byte string either parses to nlohmann's own result or throws tinyr2::Error.
  const std::string seed =
      R"({"n_embd": 64, "attention_mode": ["NSA", [1, 0, 1]], "t": {"lr": 1e-3}})";
  std::mt19937_64 rng(19);
  for (int i = 0; i < 3000; ++i) {
    std::string s = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (s.size() + 1);
      const char bytes[] = "{}[]\",:0e-.\\ \xff\x01nulltrue";
      switch (rng() % 3) {
        case 0:
          s.insert(at, 1, bytes[rng() % (sizeof bytes - 1)]);
          break;
        case 1:
          if (at < s.size()) s.erase(at, 1);
          break;
        default:
          if (at < s.size()) s[at] = static_cast<char>(rng());
          break;
      }
    }
    nlohmann::json ours, reference;
    bool ours_ok = true, ref_ok = true;
    try {
      ours = parse_json(s, "src");
    } catch (const Error&) {
      ours_ok = false;
    }
    try {
      reference = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception&) {
      ref_ok = false;
    }
    if (ours_ok) {
      ASSERT_TRUE(ref_ok) << s;
      EXPECT_EQ(ours, reference) << s;
    }
  }
}

}  // namespace tinyr2::io
