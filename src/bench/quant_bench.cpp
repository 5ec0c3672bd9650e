#include "bench/quant_bench.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <fmt/core.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "nn/gguf_model.h"
#include "nn/model.h"

namespace tinyr2::bench {

namespace {

std::string default_config() {
  if (std::filesystem::exists("configs/default.json")) return "configs/default.json";
  fail("configs/default.json not found in the current directory: pass --config");
}

// Greedy decode with the KV cache: prefill the prompt, then `tokens` single-token steps.
// Returns decode tokens/s.
double decode_tokens_per_s(const nn::Model& m, const std::vector<int32_t>& prompt, int64_t tokens) {
  Tape tape;
  NoGradGuard no_grad(tape);
  nn::ForwardContext ctx(tape);
  nn::ModelCache cache = m.new_cache();
  const int64_t V = m.cfg.vocab_size;
  Tensor logits =
      m.forward_cached(ctx, IndexTensor({1, static_cast<int64_t>(prompt.size())}, prompt), cache,
                       /*last_only=*/true);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < tokens; ++i) {
    const float* l = logits.data();
    const int32_t next = static_cast<int32_t>(std::max_element(l, l + V) - l);
    logits = m.forward_cached(ctx, IndexTensor({1, 1}, {next}), cache);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(tokens) / s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int run_bench_quant(const QuantBenchOptions& o) {
  const std::string config = o.config.empty() ? default_config() : o.config;
  const nn::ModelConfig cfg = nn::ModelConfig::from_file(config);
  if (o.prompt_tokens < 1 || o.tokens < 1 || o.rounds < 1 ||
      o.prompt_tokens + o.tokens > cfg.ctx_len)
    fail("bench quant: need 1 <= prompt tokens, tokens, rounds and prompt + tokens <= ctx_len {}",
         cfg.ctx_len);
  nn::Model fp32(cfg);
  fp32.init(o.seed);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tinyr2_bench_quant_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Entry {
    std::string name;
    kernels::QuantType type;
    std::unique_ptr<nn::Model> owned;
    const nn::Model* model = nullptr;
    int64_t bytes = 0;
    std::vector<double> tps;
  };
  std::vector<Entry> entries;
  const nn::GgufVocab vocab{{"<|endoftext|>"}, {}};  // no tokenizer needed to time decoding
  const std::string text = cfg.to_json().dump(2);
  for (auto [name, type] : {std::pair{"f32", kernels::QuantType::F32},
                            {"q8_0", kernels::QuantType::Q8_0},
                            {"q4_0", kernels::QuantType::Q4_0}}) {
    const std::string file = (dir / (std::string(name) + ".gguf")).string();
    nn::save_gguf(fp32, text, "bench", vocab, type, file);
    Entry e{name, type, nullptr, nullptr, static_cast<int64_t>(std::filesystem::file_size(file)),
            {}};
    if (type == kernels::QuantType::F32) {
      e.model = &fp32;  // the in-memory float32 model (what a model directory loads as)
    } else {
      e.owned = nn::load_gguf(file);  // maps the file: it may be unlinked below
      e.model = e.owned.get();
    }
    entries.push_back(std::move(e));
  }
  std::filesystem::remove_all(dir);

  Rng rng(o.seed + 1);
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_tokens));
  for (auto& id : prompt)
    id = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(cfg.vocab_size)));
  fmt::print(
      "bench quant: {} ({} parameters), {} threads, prompt {} tokens, {} decode tokens, "
      "{} rounds interleaved; quantized products: {}\n",
      config, fp32.num_params(), threads::num_threads(), o.prompt_tokens, o.tokens, o.rounds,
      kernels::quant_path_name(entries[1].owned->quantized->path));
  for (Entry& e : entries) decode_tokens_per_s(*e.model, prompt, std::min<int64_t>(4, o.tokens));
  for (int64_t r = 0; r < o.rounds; ++r)
    for (Entry& e : entries) e.tps.push_back(decode_tokens_per_s(*e.model, prompt, o.tokens));

  const double base_tps = median(entries[0].tps);
  const double base_bytes = static_cast<double>(entries[0].bytes);
  fmt::print("| model | GGUF bytes | size vs f32 | decode tokens/s (median) | speed-up |\n");
  fmt::print("|---|---|---|---|---|\n");
  for (const Entry& e : entries)
    fmt::print("| {} | {} | {:.3f} | {:.1f} | {:.2f}x |\n", e.name, e.bytes,
               static_cast<double>(e.bytes) / base_bytes, median(e.tps), median(e.tps) / base_tps);
  fmt::print("ratio q8_decode_speedup={:.2f}\n", median(entries[1].tps) / base_tps);
  fmt::print("ratio q4_decode_speedup={:.2f}\n", median(entries[2].tps) / base_tps);
  fmt::print("ratio q8_file_size={:.3f}\n", static_cast<double>(entries[1].bytes) / base_bytes);
  fmt::print("ratio q4_file_size={:.3f}\n", static_cast<double>(entries[2].bytes) / base_bytes);
  return 0;
}

}  // namespace tinyr2::bench
