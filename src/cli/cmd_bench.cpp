// `tinyr2 bench ops [ARGS...]`: the kernel micro-benchmarks (build/tinyr2-bench, Google
// Benchmark), with GFLOP/s next to the sgemm ceiling measured in the same run. Extra
// arguments go to Google Benchmark (e.g. --benchmark_filter=attention).
//
// `tinyr2 bench compare [--config F] [--steps N] [--decode-tokens N] [--skip-micro]`: tinyr2
// against the PyTorch reference, plus tinyr2's micro-benchmarks. It lives in its own library,
// tinyr2_bench_compare (bench/compare/bench_compare.h); this file parses its flags. Its hidden
// helpers `bench train-step` and `bench decode` each measure one side in a child process,
// `bench blas-sgemm` one OpenBLAS kernel.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/compare/bench_compare.h"
#include "bench/quant_bench.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"

namespace tinyr2::cli {

namespace {

int run_ops(const std::vector<std::string>& extra) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto bench = self.parent_path() / "tinyr2-bench";
  if (ec || !std::filesystem::exists(bench))
    fail("{} not found: build it with `cmake --build build --target tinyr2-bench`", bench.string());
  std::vector<std::string> argv_s = {bench.string(), "-t", std::to_string(threads::num_threads())};
  for (const auto& a : extra) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  fail("cannot run {}", bench.string());
}

}  // namespace

Command make_bench_command() {
  struct Options {
    CLI::App *ops = nullptr, *compare = nullptr, *train_step = nullptr, *decode = nullptr,
             *blas_sgemm = nullptr, *quant = nullptr;
    bench_compare::CompareOptions cmp;
    bench_compare::TrainStepOptions ts;
    bench_compare::DecodeOptions dec;
    bench_compare::BlasSgemmOptions blas;
    bench::QuantBenchOptions quant_opt;
  };
  auto o = std::make_shared<Options>();
  Command c;
  c.setup = [o](CLI::App& app) {
    CLI::App* sub = app.add_subcommand(
        "bench",
        "throughput benchmarks: `bench ops` (kernel micro-benchmarks), `bench compare` (tinyr2 vs "
        "PyTorch)");
    sub->require_subcommand(1);
    sub->fallthrough();

    o->ops = sub->add_subcommand("ops", "kernel micro-benchmarks against the sgemm ceiling");
    o->ops->prefix_command();  // everything after `ops` goes to Google Benchmark untouched
    o->ops->fallthrough(false);
    o->ops->footer("Arguments after `ops` go to Google Benchmark, e.g. --benchmark_filter=sgemm");

    bench_compare::CompareOptions& k = o->cmp;
    CLI::App* cmp = o->compare = sub->add_subcommand(
        "compare",
        "tinyr2 vs the PyTorch reference (training and decode tokens/s, peak memory) and "
        "micro-benchmarks; ends with `ratio NAME=VALUE` lines");
    cmp->fallthrough();
    cmp->add_option("--config", k.config,
                    "model + train config (default: configs/default.json of the source tree, "
                    "else of the current directory)");
    cmp->add_option("--steps", k.steps, "timed training steps per side and round")
        ->capture_default_str();
    cmp->add_option("--warmup", k.warmup, "untimed training steps before them")
        ->capture_default_str();
    cmp->add_option("--rounds", k.rounds, "rounds of (tinyr2, PyTorch) measurements")
        ->capture_default_str();
    cmp->add_option("--decode-tokens", k.decode_tokens, "tokens generated greedily per decode")
        ->capture_default_str();
    cmp->add_option("--prompt-tokens", k.prompt_tokens, "random prompt length for decode")
        ->capture_default_str();
    cmp->add_flag("--skip-micro", k.skip_micro, "only the tinyr2 vs PyTorch table");
    cmp->add_option("--python", k.python,
                    "Python interpreter with torch (default: " + bench_compare::default_python() +
                        ", set at build time)");
    cmp->add_option("--micro-t", k.micro_t, "SHORT,LONG: attention layer sequence lengths")
        ->delimiter(',')
        ->capture_default_str();
    cmp->add_option("--moe-tokens", k.moe_tokens, "tokens of the DSMoE layer benchmark")
        ->capture_default_str();
    cmp->add_option("--mfu-batch", k.mfu_batch, "batch of the dense512 MFU step")
        ->capture_default_str();
    cmp->add_option("--mfu-ctx", k.mfu_ctx, "ctx_len of the dense512 MFU step")
        ->capture_default_str();
    cmp->add_option("--gemm-n", k.gemm_n, "sgemm sizes for the ceiling")
        ->delimiter(',')
        ->capture_default_str();
    cmp->add_option("--min-time", k.min_time,
                    "seconds each micro-benchmark is timed for, at least (each sgemm size: "
                    "at most 1 s)")
        ->capture_default_str();
    cmp->footer(
        "Each side is measured in its own process (peak RSS per process), rounds alternate "
        "which side runs first. -t N sets the threads of both (torch.set_num_threads) and of the "
        "micro-benchmarks, which run in this process. --micro-t, --moe-tokens, --mfu-batch, "
        "--mfu-ctx, --gemm-n and --min-time size the micro-benchmarks (the tests shrink them).");

    // Hidden (empty group): the child processes of `bench compare`.
    CLI::App* ts = o->train_step =
        sub->add_subcommand("train-step", "time training steps, print one JSON line");
    ts->group("");
    ts->fallthrough();
    ts->add_option("--config", o->ts.config, "config file")->required();
    ts->add_option("--steps", o->ts.steps, "timed steps");
    ts->add_option("--warmup", o->ts.warmup, "untimed steps first");
    ts->add_option("--lora-rank", o->ts.lora_rank,
                   "LoRA fine-tuning step of rank r on the frozen model (SPEC §12)");
    ts->add_option("--precision", o->ts.precision, "matrix products: fp32 or bf16 (SPEC §13)")
        ->check(CLI::IsMember({"fp32", "bf16"}));

    CLI::App* dec = o->decode =
        sub->add_subcommand("decode", "time greedy decoding, print one JSON line");
    dec->group("");
    dec->fallthrough();
    dec->add_option("--config", o->dec.config, "config file")->required();
    dec->add_option("--prompt-tokens", o->dec.prompt_tokens, "random prompt length");
    dec->add_option("--tokens", o->dec.tokens, "tokens to generate");

    CLI::App* bs = o->blas_sgemm = sub->add_subcommand(
        "blas-sgemm", "time raw OpenBLAS sgemm on the kernel in use, print one JSON line");
    bs->group("");
    bs->fallthrough();
    bs->add_option("--n", o->blas.n, "square sizes")->delimiter(',');
    bs->add_option("--min-time", o->blas.min_time, "seconds per size, at least");

    // `bench quant` (SPEC §13, bench/quant_bench.h): f32 vs Q8_0 vs Q4_0 decode and file size.
    CLI::App* q = o->quant = sub->add_subcommand(
        "quant", "decode tokens/s and file size, f32 vs q8_0 vs q4_0; ends with `ratio` lines");
    q->fallthrough();
    q->add_option("--config", o->quant_opt.config, "model config (default configs/default.json)");
    q->add_option("--prompt-tokens", o->quant_opt.prompt_tokens, "random prompt length")
        ->capture_default_str();
    q->add_option("--tokens", o->quant_opt.tokens, "decode tokens per measurement")
        ->capture_default_str();
    q->add_option("--rounds", o->quant_opt.rounds, "interleaved rounds (median)")
        ->capture_default_str();
    return sub;
  };
  c.execute = [o]() -> int {
    if (o->ops->parsed()) return run_ops(o->ops->remaining());
    if (o->compare->parsed()) return bench_compare::run_bench_compare(o->cmp);
    if (o->train_step->parsed()) return bench_compare::run_bench_train_step(o->ts);
    if (o->decode->parsed()) return bench_compare::run_bench_decode(o->dec);
    if (o->blas_sgemm->parsed()) return bench_compare::run_bench_blas_sgemm(o->blas);
    if (o->quant->parsed()) return bench::run_bench_quant(o->quant_opt);
    return 2;
  };
  return c;
}

}  // namespace tinyr2::cli
