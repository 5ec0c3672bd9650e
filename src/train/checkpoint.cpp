#include "train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "io/file_io.h"
#include "io/json_fields.h"
#include "io/json_reader.h"
#include "io/safetensors.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "step-";

void write_text_atomically(const std::string& path, const std::string& text) {
  io::write_file_atomically(path, text);
}

std::string read_text(const std::string& path) {
  return io::read_whole_file(path);
}

// "step-00000050" → 50; -1 if the name is not a checkpoint's.
int64_t parse_name(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0 || name.size() != 13) return -1;
  int64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

void remove_dir(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);  // best effort: a leftover directory is harmless
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  return fmt::format("{}{:08d}", kPrefix, step);
}

nlohmann::json TrainerState::to_json() const {
  nlohmann::ordered_json j;
  j["step"] = step;
  j["rng"] = {{"seed", rng_seed}, {"offset", rng_offset}};
  j["data_position"] = data_position;
  j["best_val_loss"] =
      std::isfinite(best_val_loss) ? nlohmann::json(best_val_loss) : nlohmann::json();
  j["nonfinite_in_a_row"] = nonfinite_in_a_row;
  j["nonfinite_total"] = nonfinite_total;
  j["tokens_seen"] = tokens_seen;
  j["elapsed_s"] = elapsed_s;
  j["data_sources"] = data_sources;
  if (data_glob) j["data_glob"] = *data_glob;
  return j;
}

TrainerState TrainerState::from_json(const nlohmann::json& j, const std::string& source) {
  // Strict types: a float where an integer belongs is an error, never a cast (which is
  // undefined behaviour out of range).
  auto bad = [&](const std::string& key, const std::string& what) {
    fail("{}: malformed trainer state: \"{}\" {}", source, key, what);
  };
  auto at = [&](const nlohmann::json& obj, const char* key) -> const nlohmann::json& {
    if (!obj.is_object() || !obj.contains(key)) bad(key, "is missing");
    return obj.at(key);
  };
  auto count = [&](const nlohmann::json& obj, const char* key) -> int64_t {
    const auto& v = at(obj, key);
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) ||
        v.get<int64_t>() < 0)
      bad(key, fmt::format("must be an integer ≥ 0, got {}", io::json_excerpt(v)));
    return v.get<int64_t>();
  };
  auto word = [&](const nlohmann::json& obj, const char* key) -> uint64_t {
    const auto& v = at(obj, key);
    if (!v.is_number_unsigned())
      bad(key, fmt::format("must be an integer in [0, 2^64), got {}", io::json_excerpt(v)));
    return v.get<uint64_t>();
  };
  auto number = [&](const nlohmann::json& obj, const char* key) -> double {
    const auto& v = at(obj, key);
    if (!v.is_number()) bad(key, fmt::format("must be a number, got {}", io::json_excerpt(v)));
    return v.get<double>();
  };
  if (!j.is_object()) fail("{}: malformed trainer state: not a JSON object", source);
  TrainerState s;
  s.step = count(j, "step");
  const auto& rng = at(j, "rng");
  s.rng_seed = word(rng, "seed");
  s.rng_offset = word(rng, "offset");
  s.data_position = at(j, "data_position");
  s.best_val_loss = at(j, "best_val_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                     : number(j, "best_val_loss");
  s.nonfinite_in_a_row = count(j, "nonfinite_in_a_row");
  s.nonfinite_total = count(j, "nonfinite_total");
  s.tokens_seen = count(j, "tokens_seen");
  s.elapsed_s = number(j, "elapsed_s");
  const auto& sources = at(j, "data_sources");
  if (!sources.is_array()) bad("data_sources", "must be a list of paths");
  for (const auto& p : sources) {
    if (!p.is_string()) bad("data_sources", "must be a list of paths");
    s.data_sources.push_back(p.get<std::string>());
  }
  if (j.contains("data_glob")) {
    if (!j.at("data_glob").is_string()) bad("data_glob", "must be a string");
    s.data_glob = j.at("data_glob").get<std::string>();
  }
  return s;
}

void write_model_dir(const std::string& dir, const nn::Model& model) {
  const fs::path final_dir(dir), tmp = dir + ".tmp", old = dir + ".old";
  remove_dir(tmp);
  try {
    model.save(tmp.string());
  } catch (...) {
    remove_dir(tmp);  // no best.tmp/ left behind (a --resume would trip over it)
    throw;
  }
  remove_dir(old);
  std::error_code ec;
  if (fs::exists(final_dir)) fs::rename(final_dir, old, ec);
  if (ec) fail("{}: cannot move aside: {}", dir, ec.message());
  fs::rename(tmp, final_dir, ec);
  if (ec) fail("{}: cannot rename to {}: {}", tmp.string(), dir, ec.message());
  remove_dir(old);
}

void write_checkpoint(const std::string& run_dir, const nn::Model& model,
                      const std::map<std::string, Tensor>& optimizer_state,
                      const TrainerState& state, int64_t keep_checkpoints,
                      const CheckpointHook& hook) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const std::string name = checkpoint_name(state.step);
  const fs::path tmp = root / (".tmp-" + name), final_dir = root / name;
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) fail("{}: cannot create directory: {}", root.string(), ec.message());
  remove_dir(tmp);

  try {
    model.save(tmp.string());  // config.json + model.safetensors
    if (hook) hook("model");
    io::save_safetensors((tmp / "optimizer.safetensors").string(), optimizer_state,
                         {{"format", "tinyr2-optimizer"}});
    if (hook) hook("optimizer");
    write_text_atomically((tmp / "trainer_state.json").string(), state.to_json().dump(2) + "\n");
    if (hook) hook("state");
  } catch (...) {
    remove_dir(tmp);  // a failed write (disk full) leaves no partial checkpoint
    throw;
  }

  remove_dir(final_dir);  // a stale copy from an abandoned (later resumed) timeline
  fs::rename(tmp, final_dir, ec);
  if (ec) fail("{}: cannot rename to {}: {}", tmp.string(), final_dir.string(), ec.message());
  write_text_atomically((fs::path(run_dir) / "latest").string(), name + "\n");

  // Prune: keep the newest keep_checkpoints up to this one; drop later ones and temp dirs.
  std::vector<int64_t> steps;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind(".tmp-", 0) == 0) {
      remove_dir(entry.path());
      continue;
    }
    const int64_t s = parse_name(n);
    if (s < 0) continue;
    if (s > state.step)
      remove_dir(entry.path());
    else
      steps.push_back(s);
  }
  std::sort(steps.rbegin(), steps.rend());
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep_checkpoints, 1)); i < steps.size();
       ++i)
    remove_dir(root / checkpoint_name(steps[i]));
}

Checkpoint load_latest_checkpoint(const std::string& run_dir) {
  const fs::path latest = fs::path(run_dir) / "latest";
  if (!fs::exists(latest))
    fail(
        "{}: no checkpoint to resume from ({} does not exist); to start over, run without "
        "--resume and with --force",
        run_dir, latest.string());
  std::string name = read_text(latest.string());
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' '))
    name.pop_back();
  if (parse_name(name) < 0)
    fail("{}: expected a checkpoint name like step-00000050, got \"{}\"", latest.string(), name);
  Checkpoint c;
  c.dir = (fs::path(run_dir) / "checkpoints" / name).string();
  if (!fs::is_directory(c.dir)) fail("{}: names {}, which does not exist", latest.string(), c.dir);
  // A LoRA run's checkpoint holds adapters (SPEC §12): the run reloads its base (lora_run.h).
  if (!fs::exists(c.dir + "/adapter_config.json")) c.model = nn::Model::load(c.dir);
  const std::string opt = c.dir + "/optimizer.safetensors";
  if (!fs::exists(opt)) fail("{}: missing", opt);
  c.optimizer_state = io::load_safetensors(opt).tensors;
  const std::string state_file = c.dir + "/trainer_state.json";
  if (!fs::exists(state_file)) fail("{}: missing", state_file);
  const nlohmann::json j = io::read_json_file(state_file, {}, "trainer state");
  c.state = TrainerState::from_json(j, state_file);
  if (c.state.step != parse_name(name))
    fail("{}: step {} does not match the checkpoint name {}", state_file, c.state.step, name);
  return c;
}

}  // namespace tinyr2::train
