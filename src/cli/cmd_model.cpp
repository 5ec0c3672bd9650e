// Model-directory commands (SPEC §5):
//   tinyr2 init   --config FILE --out MODEL_DIR [-s SEED] [--force]
//     a randomly initialised model; a non-empty MODEL_DIR only with --force
//   tinyr2 logits -m MODEL_DIR (--ids 1,2,3 | --ids-file F) --out FILE.safetensors
//   tinyr2 info   -m MODEL_DIR                               config and parameter counts
#include <memory>
#include <sstream>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/arg_checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "io/file_io.h"
#include "io/safetensors.h"
#include "nn/lora_files.h"
#include "nn/memory_estimate.h"
#include "nn/model.h"
#include "nn/moe_router.h"
#include "train/run_directory.h"

namespace tinyr2::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text, const std::string& source) {
  std::vector<int32_t> ids;
  std::string s = text;
  for (char& ch : s)
    if (ch == ',') ch = ' ';
  std::istringstream in(s);
  std::string tok;
  while (in >> tok) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != tok.size() || v < 0 || v > INT32_MAX)
      fail("{}: \"{}\" is not a token id", source, tok);
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) fail("{}: no token ids", source);
  return ids;
}

}  // namespace

Command make_init_command() {
  struct Opt {
    std::string config, out;
    uint64_t seed = 1337;
    bool force = false;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("init", "write a randomly initialised model directory");
    s->add_option("--config", o->config, "model config JSON (SPEC §1)")->required();
    s->add_option("--out", o->out, "model directory to write")->required();
    s->add_option("-s,--seed", o->seed, "initialisation seed")
        ->capture_default_str()
        ->check(in_range<uint64_t>(0, UINT64_MAX));
    s->add_flag("--force", o->force, "replace the model in a non-empty --out");
    return s;
  };
  c.execute = [o]() -> int {
    const nn::ModelConfig cfg = nn::ModelConfig::from_file(o->config);
    nn::check_memory(cfg, o->config, {});       // before allocating (nn/memory_estimate.h)
    using Mode = train::OutputDirectory::Mode;  // never over a model or run unless --force
    train::OutputDirectory out =
        train::OutputDirectory::claim(o->out, o->force ? Mode::Overwrite : Mode::New, "init");
    nn::Model model(cfg);
    model.init(o->seed);
    out.start_fresh();
    try {
      model.save(o->out);
    } catch (const Error&) {
      out.discard();  // no half-written model directory
      throw;
    }
    fmt::print("wrote {} ({} parameters, {} active per token)\n", o->out, model.num_params(),
               model.active_params_per_token());
    return 0;
  };
  return c;
}

Command make_logits_command() {
  struct Opt {
    std::string model, ids, ids_file, out, lora;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand(
        "logits", "write the logits (T,V) of a token sequence, every position, eval mode");
    s->add_option("-m,--model", o->model, "model directory or .gguf file")->required();
    auto* ids = s->add_option("--ids", o->ids, "comma-separated token ids, e.g. 1,2,3");
    auto* file =
        s->add_option("--ids-file", o->ids_file, "text file of token ids (whitespace or commas)");
    ids->excludes(file);
    s->add_option("--out", o->out, "output .safetensors (tensor \"logits\", F32)")->required();
    s->add_option("--lora", o->lora, "apply this LoRA adapter directory (SPEC §12)");
    return s;
  };
  c.execute = [o]() -> int {
    if (o->ids.empty() == o->ids_file.empty())
      fail("logits: give exactly one of --ids and --ids-file");
    std::vector<int32_t> ids;
    if (!o->ids.empty()) {
      ids = parse_ids(o->ids, "--ids");
    } else {
      ids = parse_ids(io::read_whole_file(o->ids_file, "ids file"), o->ids_file);
    }
    auto model = nn::load_with_lora(o->model, o->lora);
    Tape tape;
    NoGradGuard no_grad(tape);
    nn::ForwardContext ctx(tape);
    const int64_t T = static_cast<int64_t>(ids.size());
    const nn::ModelOutput out = model->forward(ctx, IndexTensor({1, T}, ids));
    io::save_safetensors(o->out, {{"logits", out.logits.view({T, model->cfg.vocab_size})}});
    return 0;
  };
  return c;
}

Command make_info_command() {
  auto dir = std::make_shared<std::string>();
  Command c;
  c.setup = [dir](CLI::App& app) {
    auto* s = app.add_subcommand("info", "print a model's config and parameter counts");
    s->add_option("-m,--model", *dir, "model directory or .gguf file")->required();
    return s;
  };
  c.execute = [dir]() -> int {
    auto model = nn::Model::load(*dir);
    fmt::print("{}\n", model->cfg.to_json().dump(2));
    fmt::print("parameters: {} total, {} active per token\n", model->num_params(),
               model->active_params_per_token());
    if (const std::string r = nn::moe_routing_summary(model->cfg); !r.empty())
      fmt::print("{}\n", r);  // SPEC §11
    if (model->quantized)     // a Q8_0 / Q4_0 GGUF file (SPEC §13)
      fmt::print("quantized: {} matrices kept in their blocks; integer products: {}\n",
                 model->quantized->by_tensor.size(),
                 kernels::quant_path_name(model->quantized->path));
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
