// Fuzz target for the checkpoint reader's parsing: any bytes, read as a checkpoint's
// trainer_state.json (io::parse_json, train::TrainerState::from_json, then the data position
// it holds, data::BufferPosition::from_json) or, with a leading 'C', as its config.json
// (nn::ModelConfig::from_json), give a state or a one-line tinyr2::Error — never a crash, a
// cast out of range or other undefined behaviour. See README.md.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "data/token_buffer.h"
#include "fuzz_main.h"
#include "io/json_reader.h"
#include "nn/config.h"
#include "train/checkpoint.h"

namespace {

void check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "checkpoint_fuzz: %s: %.200s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const bool config = !text.empty() && text[0] == 'C';
  if (config) text.erase(0, 1);
  try {
    const nlohmann::json j = tinyr2::io::parse_json(text, "checkpoint");
    if (config) {
      tinyr2::nn::ModelConfig::from_json(j);
    } else {
      const auto s = tinyr2::train::TrainerState::from_json(j, "trainer_state.json");
      check(s.step >= 0 && s.tokens_seen >= 0, "negative counters accepted", text);
      const auto again = tinyr2::train::TrainerState::from_json(s.to_json(), "again");
      check(again.to_json() == s.to_json(), "to_json/from_json round trip differs", text);
      tinyr2::data::BufferPosition::from_json(s.data_position);
    }
  } catch (const tinyr2::Error& e) {
    const std::string m = e.what();
    check(m.find('\n') == std::string::npos && m.size() < 1000, "a long or multi-line message", m);
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      R"({"best_val_loss": 9.49, "data_position": {"doc_cursor": 1, "epoch": 0,
          "fingerprint": "51a48dcb3aaa84f8", "num_documents": 5, "seed": 1338, "token_offset": 757},
          "data_sources": ["data"], "elapsed_s": 2.43, "nonfinite_in_a_row": 0,
          "nonfinite_total": 0, "rng": {"offset": 0, "seed": 1341}, "step": 40,
          "tokens_seen": 2560})",
      R"({"best_val_loss": null, "data_position": {"index": 3}, "data_sources": [],
          "elapsed_s": 0, "nonfinite_in_a_row": 1, "nonfinite_total": 2,
          "rng": {"offset": 18446744073709551615, "seed": 0}, "step": 0, "tokens_seen": 0})",
      R"(C{"vocab_size": 50, "n_embd": 16, "n_head": 2, "n_layer": 1, "attention_types": ["FULL"],
          "types": ["mlp"], "hc": false})",
  };
}
