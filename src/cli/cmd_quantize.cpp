// Precision commands (SPEC §13):
//   tinyr2 quantize -m MODEL_DIR --type q8_0|q4_0|bf16|f32 --out FILE.gguf
//   tinyr2 convert  -m MODEL_DIR --dtype bf16|f32 --out MODEL_DIR2
// quantize writes a GGUF v3 file (nn/gguf_model.h) that generate / eval / logits / info take
// as -m; convert rewrites model.safetensors with F32 or BF16 tensors (config.json copied
// unchanged).
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "io/file_io.h"
#include "io/safetensors.h"
#include "nn/gguf_model.h"
#include "nn/model.h"
#include "train/run_directory.h"

namespace tinyr2::cli {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// GPT-2's vocabulary as GGUF stores it: token strings by id (encoder.json), merges (vocab.bpe).
nn::GgufVocab gpt2_vocab() {
  const std::string dir = data::default_tokenizer_dir();
  nn::GgufVocab v;
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(read_text(dir + "/encoder.json"));
  } catch (const nlohmann::json::exception& e) {
    fail("{}/encoder.json: {}", dir, e.what());
  }
  v.tokens.resize(enc.size());
  for (const auto& [token, id] : enc.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() >= static_cast<int64_t>(v.tokens.size()))
      fail("{}/encoder.json: bad id for token {}", dir, token);
    v.tokens[id.get<size_t>()] = token;
  }
  std::istringstream bpe(read_text(dir + "/vocab.bpe"));
  std::string line;
  while (std::getline(bpe, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    v.merges.push_back(line);
  }
  return v;
}

kernels::QuantType parse_type(const std::string& s, bool gguf) {
  if (s == "f32") return kernels::QuantType::F32;
  if (s == "bf16") return kernels::QuantType::BF16;
  if (gguf && s == "q8_0") return kernels::QuantType::Q8_0;
  if (gguf && s == "q4_0") return kernels::QuantType::Q4_0;
  fail("unknown {} \"{}\" (expected {})", gguf ? "--type" : "--dtype", s,
       gguf ? "q8_0, q4_0, bf16 or f32" : "bf16 or f32");
}

}  // namespace

Command make_quantize_command() {
  struct Opt {
    std::string model, type, out;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s =
        app.add_subcommand("quantize", "write a model as a GGUF file (q8_0, q4_0, bf16, f32)");
    s->add_option("-m,--model", o->model, "model directory")->required();
    s->add_option("--type", o->type, "q8_0 | q4_0 | bf16 | f32")->required();
    s->add_option("--out", o->out, "the .gguf file to write")->required();
    return s;
  };
  c.execute = [o]() -> int {
    const kernels::QuantType type = parse_type(o->type, true);
    if (nn::is_gguf_path(o->model)) fail("{}: quantize reads a model directory", o->model);
    const auto model = nn::Model::load(o->model);
    const std::string config_text = read_text(o->model + "/config.json");
    std::string name = std::filesystem::path(o->model).lexically_normal().filename().string();
    if (name.empty()) name = std::filesystem::path(o->model).parent_path().filename().string();
    nn::save_gguf(*model, config_text, name, gpt2_vocab(), type, o->out);
    std::error_code ec;
    const auto in_bytes = std::filesystem::file_size(o->model + "/model.safetensors", ec);
    const auto out_bytes = std::filesystem::file_size(o->out);
    fmt::print("wrote {} ({}, {} bytes; model.safetensors {} bytes, ratio {:.3f})\n", o->out,
               o->type, out_bytes, in_bytes,
               in_bytes ? static_cast<double>(out_bytes) / static_cast<double>(in_bytes) : 0.0);
    return 0;
  };
  return c;
}

Command make_convert_command() {
  struct Opt {
    std::string model, dtype, out;
    bool force = false;
  };
  auto o = std::make_shared<Opt>();
  Command c;
  c.setup = [o](CLI::App& app) {
    auto* s = app.add_subcommand("convert", "rewrite a model directory with F32 or BF16 tensors");
    s->add_option("-m,--model", o->model, "model directory")->required();
    s->add_option("--dtype", o->dtype, "bf16 | f32")->required();
    s->add_option("--out", o->out, "model directory to write")->required();
    s->add_flag("--force", o->force, "replace the model in a non-empty --out");
    return s;
  };
  c.execute = [o]() -> int {
    const kernels::QuantType type = parse_type(o->dtype, false);
    if (nn::is_gguf_path(o->model)) fail("{}: convert reads a model directory", o->model);
    using Mode = train::OutputDirectory::Mode;  // never over a model or run unless --force
    train::OutputDirectory out =
        train::OutputDirectory::claim(o->out, o->force ? Mode::Overwrite : Mode::New, "convert");
    const auto model = nn::Model::load(o->model);
    const std::string config_text = read_text(o->model + "/config.json");
    out.start_fresh();
    try {
      io::write_file_atomically(o->out + "/config.json", config_text);
      io::save_safetensors(
          o->out + "/model.safetensors", model->params.state_dict(), {{"format", "pt"}},
          type == kernels::QuantType::BF16 ? io::FloatFormat::BF16 : io::FloatFormat::F32);
    } catch (const Error&) {
      out.discard();  // no half-written model directory
      throw;
    }
    fmt::print("wrote {} ({})\n", o->out, o->dtype);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
