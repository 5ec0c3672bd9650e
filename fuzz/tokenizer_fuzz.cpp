// Fuzz target for the GPT-2 tokenizer: any byte string must encode without crashing, give
// ids in [0, 50257), and decode back to the same bytes — with "<|endoftext|>" treated as
// ordinary text and as the special token alike. See fuzz/README.md for how to build it.
//
// Built with -DTINYR2_FUZZ_STANDALONE it has its own main(): with file arguments it replays
// them (e.g. a libFuzzer crash file); without, it runs N (default 200000) seeded random
// inputs mixing raw bytes, broken UTF-8, whitespace runs, apostrophes and multi-byte text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace {

const tinyr2::data::Tokenizer& tokenizer() {
  static const tinyr2::data::Tokenizer tok = tinyr2::data::Tokenizer::load();
  return tok;
}

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "tokenizer_fuzz: %s (input of %zu bytes)\n", what, input.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto& tok = tokenizer();
  for (const bool special : {false, true}) {
    const std::vector<int32_t> ids = tok.encode(input, special);
    for (const int32_t id : ids) {
      check(id >= 0 && id < tok.vocab_size(), "id out of range", input);
      check(special || id != tok.eot(), "<|endoftext|> produced from ordinary text", input);
    }
    check(tok.decode(ids) == input, "decode(encode(x)) != x", input);
  }
  return 0;
}

#ifdef TINYR2_FUZZ_STANDALONE
#include <fstream>
#include <iterator>
#include <random>

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) != "-n") {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("replayed %d inputs: ok\n", argc - 1);
    return 0;
  }
  const long n = argc > 2 ? std::atol(argv[2]) : 200000;
  const std::vector<std::string> atoms = {"a",
                                          "Z",
                                          " ",
                                          "  ",
                                          "\n",
                                          "\t",
                                          "'",
                                          "'s",
                                          "'ll",
                                          "1",
                                          "42",
                                          ".",
                                          "!",
                                          "_",
                                          "\xC2\xA0",
                                          "\xC2\x85",
                                          "\xEF\xBB\xBF",
                                          "\xE4\xB8\xAD",
                                          "\xF0\x9F\x98\x80",
                                          "\xCC\x81",
                                          "<|endoftext|>",
                                          "\x80",
                                          "\xC2",
                                          "\xE4\xB8",
                                          "\xED\xA0\x80",
                                          "\xF4\x90\x80\x80",
                                          "\xC0\xAF",
                                          "\xFF"};
  std::mt19937_64 rng(20240601);
  std::string s;
  for (long i = 0; i < n; ++i) {
    s.clear();
    const size_t len = rng() % 64;
    for (size_t k = 0; k < len; ++k) {
      if (rng() % 3 == 0)
        s.push_back(static_cast<char>(rng() & 0xFF));
      else
        s += atoms[rng() % atoms.size()];
    }
    if (rng() % 100 == 0) s += std::string(rng() % 3000, " a\n7"[rng() % 4]);  // long pieces
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::printf("%ld random inputs: ok\n", n);
  return 0;
}
#endif
