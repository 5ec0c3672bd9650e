// `tinyr2 bench quant` (SPEC §13): decode tokens/s of one model as float32, Q8_0 and Q4_0
// (the same weights: the fp32 model is quantized in memory into GGUF files and loaded back
// from them), file sizes, and `ratio` lines:
//   ratio q8_decode_speedup=…  ratio q4_decode_speedup=…   (over fp32, KV-cache decode)
//   ratio q8_file_size=…       ratio q4_file_size=…        (over the f32 GGUF file)
// Rounds interleave the three models (f32, q8_0, q4_0, f32, …) and each figure is the median
// over rounds, so that a machine whose load changes affects all three alike.
#pragma once

#include <cstdint>
#include <string>

namespace tinyr2::bench {

struct QuantBenchOptions {
  std::string config;  // model config (./configs/default.json when empty)
  int64_t prompt_tokens = 32, tokens = 64, rounds = 3;
  uint64_t seed = 1;
};

int run_bench_quant(const QuantBenchOptions& o);

}  // namespace tinyr2::bench
