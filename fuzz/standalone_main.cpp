// A libFuzzer-compatible driver without libFuzzer (see fuzz_main.h):
//   TARGET -n N          N seeded random mutations of the target's seeds (default 3000)
//   TARGET FILE...       replays the files (e.g. a libFuzzer crash-* file)
//   TARGET --seeds DIR   writes the seeds into DIR (scripts/fuzz's initial corpus)
// A finding aborts (the target's own check, or a sanitizer when built with one); every input
// that returns is fine.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "fuzz_main.h"

namespace {

// Tokens that JSON-shaped and binary readers treat specially.
const char* const kDictionary[] = {"{",
                                   "}",
                                   "[",
                                   "]",
                                   "\"",
                                   ":",
                                   ",",
                                   "0",
                                   "-1",
                                   "1e308",
                                   "-0",
                                   "1.5",
                                   "null",
                                   "true",
                                   "false",
                                   "\\u0000",
                                   "\"\"",
                                   "18446744073709551616",
                                   "99999999999999999999",
                                   "9223372036854775807",
                                   "[[[[[[[[",
                                   "]]]]",
                                   "{\"a\":",
                                   "\"dtype\"",
                                   "\"shape\"",
                                   "\"data_offsets\"",
                                   "\"F32\"",
                                   "\"BF16\"",
                                   "\"I64\"",
                                   "\"__metadata__\"",
                                   "\xff",
                                   "\xc3\xa9",
                                   "\x00\x00\x00\x00\x00\x00\x00\x00"};

std::string mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 7) {
      case 0:  // flip a byte
        if (at < s.size()) s[at] = static_cast<char>(s[at] ^ (1u << (rng() % 8)));
        break;
      case 1:  // a random byte
        s.insert(at, 1, static_cast<char>(rng()));
        break;
      case 2: {  // a dictionary token
        const std::string tok = kDictionary[rng() % std::size(kDictionary)];
        s.insert(at, tok);
        break;
      }
      case 3:  // delete a range
        if (at < s.size()) s.erase(at, 1 + rng() % 16);
        break;
      case 4:  // duplicate a range
        if (at < s.size()) s.insert(at, s.substr(at, 1 + rng() % 64));
        break;
      case 5:  // truncate
        s.resize(at);
        break;
      default:  // overwrite with a random small integer's digits
        if (at < s.size())
          s.replace(at, 1, std::to_string(static_cast<int64_t>(rng() % 2000) - 1000));
        break;
    }
  }
  return s;
}

void run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> seeds = fuzz_seeds();
  if (argc == 3 && std::string(argv[1]) == "--seeds") {
    for (size_t i = 0; i < seeds.size(); ++i)
      std::ofstream(std::string(argv[2]) + "/seed-" + std::to_string(i), std::ios::binary)
          << seeds[i];
    std::printf("wrote %zu seeds to %s\n", seeds.size(), argv[2]);
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) != "-n") {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      run(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    }
    std::printf("replayed %d inputs: ok\n", argc - 1);
    return 0;
  }
  const long n = argc > 2 ? std::atol(argv[2]) : 3000;
  std::mt19937_64 rng(20261205);
  for (const auto& s : seeds) run(s);
  for (long i = 0; i < n; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    s = mutate(std::move(s), rng);
    if (rng() % 4 == 0) s = mutate(std::move(s), rng);  // mutations of mutations
    run(s);
  }
  std::printf("%zu seeds and %ld random mutations: ok\n", seeds.size(), n);
  return 0;
}
