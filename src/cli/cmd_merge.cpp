// tinyr2 merge -m BASE --lora DIR --out MODEL_DIR (SPEC §12): writes W + (a/r)·B·A for every
// adapted Linear of BASE as a plain model directory (config.json + model.safetensors) that
// loads and runs without the adapter. The adapter must belong to BASE (base_model_sha256).
#include <filesystem>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "nn/gguf_model.h"
#include "nn/lora_files.h"
#include "nn/model.h"
#include "train/run_directory.h"

namespace tinyr2::cli {

Command make_merge_command() {
  struct Opt {
    std::string model, lora, out;
    bool force = false;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("merge", "merge a LoRA adapter into its base model");
    s->add_option("-m,--model", o->model, "base model directory")->required();
    s->add_option("--lora", o->lora, "LoRA adapter directory")->required();
    s->add_option("--out", o->out, "model directory to write")->required();
    s->add_flag("--force", o->force, "replace the model in a non-empty --out");
    return s;
  };
  c.execute = [o]() -> int {
    if (nn::is_gguf_path(o->model)) fail("{}: merge reads a model directory", o->model);
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(o->out) && fs::equivalent(o->out, o->model, ec))
      fail("--out {}: would overwrite the base model", o->out);
    using Mode = train::OutputDirectory::Mode;  // never over a model or run unless --force
    train::OutputDirectory out =
        train::OutputDirectory::claim(o->out, o->force ? Mode::Overwrite : Mode::New, "merge");
    auto model = nn::load_with_lora(o->model, o->lora);
    const size_t n = model->lora->all().size();
    nn::merge_into_base(*model->lora);
    model->lora.reset();
    out.start_fresh();
    try {
      model->save(o->out);
    } catch (const Error&) {
      out.discard();  // no half-written model directory
      throw;
    }
    fmt::print("wrote {}: {} with {} LoRA update(s) from {} merged\n", o->out, o->model, n,
               o->lora);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
