// `tinyr2 bench compare` and the hidden measurement subcommands it runs as child processes
// (the `tinyr2_bench_compare` library; src/cli/cmd_bench.cpp parses the flags).
//
//   tinyr2 [-t N] bench compare [--config F] [--steps N] [--decode-tokens N] [--skip-micro] ...
//       tinyr2 against the PyTorch reference on one config: training tokens/s, decode tokens/s
//       and the training process's peak RSS (each side measured in its own process, the
//       sides interleaved round by round), then tinyr2's micro-benchmarks (NSA vs FULL layer,
//       DSMoE expert counts, dense MFU against the sgemm ceiling), the compared step's
//       arithmetic (the most train_speedup can be against that ceiling). Prints one table,
//       notes, and ends with `ratio NAME=VALUE` lines.
//   tinyr2 [-t N] bench train-step --config F [--steps N] [--warmup W]      (hidden)
//   tinyr2 [-t N] bench decode --config F [--prompt-tokens P] [--tokens N]  (hidden)
//       One JSON line on stdout each, the twins of reference/bench.py's `train` / `decode`.
//   tinyr2 [-t N] bench blas-sgemm [--n 512,1024,2048] [--min-time S]     (hidden)
//       One JSON line: the best raw cblas_sgemm GFLOP/s of the OpenBLAS kernel this process
//       was started with (OPENBLAS_CORETYPE), for the gemm_vs_best_kernel ratio.
//
// Files: measure.cpp (the two children), inputs (config, interpreter, script, self),
// child_process (run one side, read its JSON line), rounds (the alternating rounds),
// report (the table and its notes), micro (the micro-benchmarks), arithmetic (the step's
// FLOPs and train_speedup_bound), output (formatting).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tinyr2::bench_compare {

struct TrainStepOptions {
  std::string config;
  int64_t steps = 5;      // timed optimizer steps
  int64_t warmup = 2;     // untimed steps before them
  std::string precision;  // "fp32" | "bf16" overrides train.precision (SPEC §13); "" keeps it
  int64_t lora_rank = 0;  // > 0: a LoRA step (SPEC §12, train.lora_rank; targets attn,ffn)
};
int run_bench_train_step(const TrainStepOptions& o);

struct DecodeOptions {
  std::string config;
  int64_t prompt_tokens = 16;
  int64_t tokens = 128;  // generated greedily after the prompt
};
int run_bench_decode(const DecodeOptions& o);

struct BlasSgemmOptions {
  std::vector<int64_t> n = {512, 1024, 2048};  // square sizes; the best rate counts
  double min_time = 1.0;                       // seconds each size is timed for, at least
};
int run_bench_blas_sgemm(const BlasSgemmOptions& o);

struct CompareOptions {
  std::string config;  // "" = configs/default.json of the source tree (or of the cwd)
  int64_t steps = 3, warmup = 1, rounds = 2;
  int64_t prompt_tokens = 16, decode_tokens = 64;
  bool skip_micro = false;
  std::string python;  // "" = the interpreter chosen at build time (TINYR2_TORCH_PYTHON)
  // Micro-benchmark sizes (--micro-t, --moe-tokens, ...; the tests shrink them).
  std::vector<int64_t> micro_t = {512, 32768};  // the short and the long sequence
  int64_t moe_tokens = 2048;
  int64_t mfu_batch = 4, mfu_ctx = 512;
  std::vector<int64_t> gemm_n = {512, 1024, 2048};
  double min_time = 2.0;  // seconds each micro-benchmark is timed for (at least)
};
int run_bench_compare(const CompareOptions& o);

// The interpreter --python defaults to: TINYR2_TORCH_PYTHON, chosen at build time.
std::string default_python();

}  // namespace tinyr2::bench_compare
