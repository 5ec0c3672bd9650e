#include "train/train_config.h"

#include "core/error.h"
#include "io/json_fields.h"
#include "io/json_reader.h"

namespace tinyr2::train {

namespace {

const std::vector<std::string> kTrainKeys = {"batch_size",
                                             "grad_accum",
                                             "max_iters",
                                             "warmup_iters",
                                             "lr",
                                             "min_lr",
                                             "muon_lr",
                                             "muon_momentum",
                                             "muon_weight_decay",
                                             "weight_decay",
                                             "betas",
                                             "eps",
                                             "max_grad_norm",
                                             "eval_interval",
                                             "eval_iters",
                                             "checkpoint_interval",
                                             "val_fraction",
                                             "seed",
                                             "keep_checkpoints",
                                             "precision",
                                             "zero",
                                             "init_from",
                                             "lora_rank",
                                             "lora_alpha",
                                             "lora_dropout",
                                             "lora_targets"};

// io::JsonFields reports `train: "KEY" what`; the trainer's keys are named `train.KEY what`.
template <typename Read>
void field(const std::string& key, Read&& read) {
  try {
    read();
  } catch (const Error& e) {
    const std::string msg = e.what(), prefix = "train: \"" + key + "\" ";
    if (msg.rfind(prefix, 0) == 0) throw Error("train." + key + " " + msg.substr(prefix.size()));
    throw;
  }
}

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  fail("train.{} {}", key, what);
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("train must be a JSON object, got {}", io::json_excerpt(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const auto& k : kTrainKeys) known = known || k == it.key();
    if (!known) {
      std::string list;
      for (const auto& k : kTrainKeys) list += (list.empty() ? "" : ", ") + k;
      fail("train.{}: unknown key (known: {})", io::text_excerpt(it.key()), list);
    }
  }
  TrainConfig c;
  io::JsonFields f(j, "train");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  field("batch_size", [&] { f.integer("batch_size", c.batch_size, 1, 1 << 20); });
  field("grad_accum", [&] { f.integer("grad_accum", c.grad_accum, 1, 1 << 20); });
  field("max_iters", [&] { f.integer("max_iters", c.max_iters, 1, 99999999); });
  field("warmup_iters", [&] { f.integer("warmup_iters", c.warmup_iters, 0); });
  field("lr", [&] { f.number("lr", c.lr, 0.0, kInf); });
  field("min_lr", [&] { f.number("min_lr", c.min_lr, 0.0, kInf); });
  field("muon_lr", [&] { f.number("muon_lr", c.muon_lr, 0.0, kInf); });
  field("muon_momentum", [&] { f.number("muon_momentum", c.muon_momentum, 0.0, 1.0); });
  if (c.muon_momentum >= 1.0)
    bad("muon_momentum", fmt::format("= {} must be < 1", c.muon_momentum));
  field("muon_weight_decay",
        [&] { f.number("muon_weight_decay", c.muon_weight_decay, 0.0, kInf); });
  field("weight_decay", [&] { f.number("weight_decay", c.weight_decay, 0.0, kInf); });
  if (f.has("betas")) {
    const auto& v = f.raw("betas");
    bool ok = v.is_array() && v.size() == 2;
    for (size_t i = 0; ok && i < 2; ++i)
      ok = v[i].is_number() && v[i].get<double>() >= 0.0 && v[i].get<double>() < 1.0;
    if (!ok)
      bad("betas", fmt::format("must be [b1, b2] with 0 ≤ b < 1, got {}", io::json_excerpt(v)));
    c.betas = {v[0].get<double>(), v[1].get<double>()};
  }
  field("eps", [&] { f.number("eps", c.eps, 0.0, 1.0, /*min_exclusive=*/true); });
  field("max_grad_norm", [&] { f.number("max_grad_norm", c.max_grad_norm, 0.0, kInf); });
  field("eval_interval", [&] { f.integer("eval_interval", c.eval_interval, 1); });
  field("eval_iters", [&] { f.integer("eval_iters", c.eval_iters, 1, 1 << 20); });
  field("checkpoint_interval", [&] { f.integer("checkpoint_interval", c.checkpoint_interval, 1); });
  field("val_fraction", [&] { f.number("val_fraction", c.val_fraction, 0.0, 1.0); });
  if (c.val_fraction >= 1.0) bad("val_fraction", fmt::format("= {} must be < 1", c.val_fraction));
  field("seed", [&] { f.integer("seed", c.seed, 0); });
  field("keep_checkpoints", [&] { f.integer("keep_checkpoints", c.keep_checkpoints, 1, 1 << 20); });
  // SPEC §13: the precision of the matrix products.
  field("precision", [&] { f.choice("precision", c.precision, {"fp32", "bf16"}); });
  field("zero", [&] { f.integer("zero", c.zero, 0, 1); });  // SPEC §15
  // SPEC §12: fine-tuning from a model directory, LoRA adapters on a frozen base.
  if (f.has("init_from")) {
    const auto& v = f.raw("init_from");
    if (!v.is_string() || v.get<std::string>().empty())
      bad("init_from", fmt::format("must be a model directory path, got {}", io::json_excerpt(v)));
    c.init_from = v.get<std::string>();
  }
  field("lora_rank", [&] { f.integer("lora_rank", c.lora_rank, 0, 1 << 16); });
  field("lora_alpha", [&] { f.number("lora_alpha", c.lora_alpha, 0.0, 1e9); });
  field("lora_dropout", [&] { f.number("lora_dropout", c.lora_dropout, 0.0, 1.0); });
  if (c.lora_dropout >= 1.0) bad("lora_dropout", fmt::format("= {} must be < 1", c.lora_dropout));
  if (f.has("lora_targets")) {
    const auto& v = f.raw("lora_targets");
    if (!v.is_string())
      bad("lora_targets",
          fmt::format("must be a string like \"attn,ffn\", got {}", io::json_excerpt(v)));
    c.lora_targets = v.get<std::string>();
  }
  if (c.lora_rank > 0 && c.init_from.empty())
    bad("lora_rank", "needs a base model: --init-from MODEL_DIR (train.init_from)");
  f.finish();
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::ordered_json j;
  j["batch_size"] = batch_size;
  j["grad_accum"] = grad_accum;
  j["max_iters"] = max_iters;
  j["warmup_iters"] = warmup_iters;
  j["lr"] = lr;
  j["min_lr"] = min_lr;
  j["muon_lr"] = muon_lr;
  j["muon_momentum"] = muon_momentum;
  j["muon_weight_decay"] = muon_weight_decay;
  j["weight_decay"] = weight_decay;
  j["betas"] = betas;
  j["eps"] = eps;
  j["max_grad_norm"] = max_grad_norm;
  j["eval_interval"] = eval_interval;
  j["eval_iters"] = eval_iters;
  j["checkpoint_interval"] = checkpoint_interval;
  j["val_fraction"] = val_fraction;
  j["seed"] = seed;
  j["keep_checkpoints"] = keep_checkpoints;
  j["precision"] = precision;
  j["zero"] = zero;
  if (!init_from.empty()) j["init_from"] = init_from;
  if (lora_rank > 0) {  // only in a LoRA run's config (SPEC §12)
    j["lora_rank"] = lora_rank;
    j["lora_alpha"] = lora_alpha;
    j["lora_dropout"] = lora_dropout;
    j["lora_targets"] = lora_targets;
  }
  return j;
}

RunConfig RunConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("config must be a JSON object, got {}", j.type_name());
  RunConfig rc;
  rc.model = nn::ModelConfig::from_json(j);  // ignores "train"
  if (j.contains("train")) rc.train = TrainConfig::from_json(j.at("train"));
  return rc;
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::ordered_json j = model.to_json();
  j["train"] = train.to_json();
  return j;
}

void apply_override(nlohmann::json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set \"{}\": expected KEY=VALUE (e.g. train.lr=3e-3 or n_layer=2)",
         io::text_excerpt(assignment));
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value;
  try {
    value = io::parse_json(text, "--set " + io::text_excerpt(key));
  } catch (const Error&) {
    value = text;  // not JSON: a bare string such as sigmoid
  }
  const std::string shown = io::text_excerpt(key);
  if (!config.is_object()) fail("--set {}: the config is not a JSON object", shown);
  const size_t dot = key.find('.');
  if (dot == std::string::npos) {
    config[key] = value;
    return;
  }
  const std::string section = key.substr(0, dot), sub = key.substr(dot + 1);
  if (section != "train" || sub.empty() || sub.find('.') != std::string::npos)
    fail("--set {}: only model keys (n_embd=...) and train.<key> (train.lr=...) can be set", shown);
  nlohmann::json& train = config["train"];
  if (train.is_null()) train = nlohmann::json::object();
  if (!train.is_object()) fail("--set {}: \"train\" is not a JSON object", shown);
  train[sub] = value;
}

nlohmann::json read_json_file(const std::string& path) {
  const nlohmann::json j = io::read_json_file(path, {}, "config file");
  if (!j.is_object()) fail("{}: a config must be a JSON object, got {}", path, j.type_name());
  return j;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json j = read_json_file(path);
  for (const auto& o : overrides) apply_override(j, o);
  try {
    return RunConfig::from_json(j);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

}  // namespace tinyr2::train
