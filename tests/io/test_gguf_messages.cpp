// The GGUF reader's errors name keys and tensors taken from the file (SPEC §13: one-line
// messages): a name holding a newline, or megabytes long, must come out escaped and cut, not
// as a multi-line or huge message (found by fuzz/gguf_fuzz.cpp). The bytes are built here by
// hand from the format (io/gguf.h), independently of the writer.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"

namespace {

struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  void put(T v) {
    for (size_t k = 0; k < sizeof(T); ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k)));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
};

std::string error_of(const Bytes& f) {
  auto owner = std::make_shared<std::vector<uint8_t>>(f.b);
  try {
    tinyr2::io::parse_gguf(owner->data(), owner->size(), owner, "t.gguf");
  } catch (const tinyr2::Error& e) {
    return e.what();
  }
  return "";
}

Bytes header(uint64_t tensors, uint64_t keys) {
  Bytes f;
  f.put<uint32_t>(0x46554747);  // "GGUF"
  f.put<uint32_t>(3);
  f.put<uint64_t>(tensors);
  f.put<uint64_t>(keys);
  return f;
}

TEST(GgufMessages, KeysAndTensorNamesFromTheFileStayOnOneShortLine) {
  const std::string nasty = "evil\nkey\r" + std::string(100000, 'x');
  Bytes dup_key = header(0, 2);
  for (int k = 0; k < 2; ++k) {
    dup_key.str(nasty);
    dup_key.put<uint32_t>(4);  // U32
    dup_key.put<uint32_t>(7);
  }
  Bytes bad_bool = header(0, 1);
  bad_bool.str(nasty);
  bad_bool.put<uint32_t>(7);  // BOOL
  bad_bool.put<uint8_t>(2);
  Bytes bad_type = header(1, 0);
  bad_type.str(nasty);
  bad_type.put<uint32_t>(1);  // 1 dim
  bad_type.put<uint64_t>(4);
  bad_type.put<uint32_t>(99);  // no such ggml type
  for (const Bytes* f : {&dup_key, &bad_bool, &bad_type}) {
    const std::string m = error_of(*f);
    ASSERT_FALSE(m.empty()) << "accepted";
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.find('\r'), std::string::npos) << m;
    EXPECT_LT(m.size(), 300u) << m.substr(0, 300);
    EXPECT_NE(m.find("evil\\nkey\\r"), std::string::npos) << m;  // named, escaped
  }
}

}  // namespace
