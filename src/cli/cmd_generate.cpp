// `tinyr2 generate -m MODEL_DIR -p TEXT [-n N] [--temp T] [--top-k K] [--top-p P] [-s SEED]
//                  [--no-cache]` (SPEC §5, §7)
//
// Streams the continuation of the prompt to stdout as tokens are chosen — exactly the bytes of
// the generated ids (the prompt is not echoed, <|endoftext|> ends generation and is not
// printed, nothing is added at the end); a UTF-8 character split across tokens is printed once
// complete. Then prints the sampling settings (with the seed), prefill and decode speeds and the
// cache size to stderr. Flags as in llama.cpp: -n −1 = until <|endoftext|>, --temp 0 = greedy,
// --top-k 0 and
// --top-p 1 disable those filters, -s −1 = a random seed (printed).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/arg_checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "infer/generator.h"
#include "nn/lora_files.h"
#include "nn/model.h"

namespace tinyr2::cli {

namespace {

void write_stdout(const std::string& bytes) {
  if (bytes.empty()) return;
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

double per_second(double count, double seconds) {
  return seconds > 0 ? count / seconds : 0.0;
}

}  // namespace

Command make_generate_command() {
  struct Opt {
    std::string model, prompt, lora;
    int64_t n = 128;
    infer::SamplingParams sampling;
    int64_t seed = -1;
    bool no_cache = false;
    int64_t ctx = 0;  // SPEC §10 --ctx; 0: the model's ctx_len
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s =
        app.add_subcommand("generate", "continue a prompt with a model (streams text to stdout)");
    s->add_option("-m,--model", o->model, "model directory or .gguf file")->required();
    s->add_option("-p,--prompt", o->prompt, "prompt text")->required();
    s->add_option("--lora", o->lora, "apply this LoRA adapter directory (SPEC §12)");
    s->add_option(
         "-n,--n-predict", o->n,
         fmt::format("tokens to generate (-1: until <|endoftext|>, at most {})", kMaxNewTokens))
        ->capture_default_str()
        ->check(in_range<int64_t>(INT64_MIN, INT64_MAX));  // the range: below, exit 1
    s->add_option("--temp", o->sampling.temperature, "temperature (0: greedy)")
        ->capture_default_str();
    s->add_option("--top-k", o->sampling.top_k, "keep the k most likely tokens (<= 0: off)")
        ->capture_default_str();
    s->add_option("--top-p", o->sampling.top_p,
                  "nucleus: keep the smallest set of mass >= p (1: off)")
        ->capture_default_str();
    s->add_option("-s,--seed", o->seed, "sampling seed (-1: random)")
        ->capture_default_str()
        ->check(in_range<int64_t>(INT64_MIN, INT64_MAX));
    s->add_flag("--no-cache", o->no_cache, "recompute the full forward every step (check path)");
    s->add_option("--ctx", o->ctx,
                  "context limit N (beyond ctx_len only for pos_embedding \"rope\", NTK-scaled)");
    return s;
  };
  c.execute = [o]() -> int {
    if (o->prompt.empty()) fail("generate: the prompt (-p) is empty");
    if (o->n < -1 || o->n > kMaxNewTokens)
      fail("-n must be in [-1, {}] (-1: until <|endoftext|>), got {}", kMaxNewTokens, o->n);
    if (o->seed < -1) fail("-s must be >= 0 (or -1 for a random seed), got {}", o->seed);
    infer::validate(o->sampling);

    const auto model = nn::load_with_lora(o->model, o->lora, o->ctx);
    const auto tokenizer = data::Tokenizer::load();
    const std::vector<int32_t> prompt = tokenizer.encode(o->prompt);
    if (prompt.empty()) fail("generate: the prompt encodes to no tokens");

    infer::GenerationOptions opt;
    opt.max_new_tokens = o->n == -1 ? kMaxNewTokens : o->n;  // -1: until <|endoftext|>, capped
    opt.sampling = o->sampling;
    opt.seed = o->seed >= 0 ? static_cast<uint64_t>(o->seed) : std::random_device{}();
    opt.use_cache = !o->no_cache;
    opt.eot = tokenizer.eot();
    opt.sample_vocab = std::min(model->cfg.vocab_size, tokenizer.vocab_size());

    infer::Generator generator(*model, opt);
    infer::Utf8Stream stream;
    bool ends_with_newline = true;
    const std::vector<int32_t> ids = generator.generate(prompt, [&](int32_t id) {
      const std::string_view bytes = tokenizer.token_bytes(id);
      if (!bytes.empty()) ends_with_newline = bytes.back() == '\n';
      write_stdout(stream.push(bytes));
    });
    write_stdout(stream.finish());

    const infer::GenerationStats& st = generator.stats();
    if (!ends_with_newline) fmt::print(stderr, "\n");  // keep the report off the text's last line
    if (o->n == -1 && static_cast<int64_t>(ids.size()) >= kMaxNewTokens)
      fmt::print(stderr, "note: stopped at the cap of {} tokens (-n -1 without <|endoftext|>)\n",
                 kMaxNewTokens);
    const infer::SamplingParams& sp = opt.sampling;
    fmt::print(stderr, "sampling: {}{}\n",
               sp.temperature == 0 ? std::string("greedy")
                                   : fmt::format("temp {}, top-k {}, top-p {}, seed {}",
                                                 sp.temperature, sp.top_k, sp.top_p, opt.seed),
               opt.use_cache ? "" : " (no cache: full forward every step)");
    fmt::print(stderr, "prefill: {} tokens in {:.1f} ms ({:.1f} tokens/s)\n", st.prompt_tokens,
               st.prefill_seconds * 1e3,
               per_second(static_cast<double>(st.prompt_tokens), st.prefill_seconds));
    if (st.context_cuts > 0)
      fmt::print(stderr, "context: cut {} times to the last {} tokens (ctx_len {})\n",
                 st.context_cuts, std::max<int64_t>(1, model->cfg.ctx_len / 2), model->cfg.ctx_len);
    fmt::print(stderr, "decode: {} tokens generated, {} steps in {:.1f} ms ({:.1f} tokens/s)\n",
               ids.size(), st.decode_steps, st.decode_seconds * 1e3,
               per_second(static_cast<double>(st.decode_steps), st.decode_seconds));
    fmt::print(stderr, "cache: {} bytes ({} allocated)\n", st.cache_bytes,
               st.cache_allocated_bytes);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
