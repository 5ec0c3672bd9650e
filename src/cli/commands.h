// The subcommands of `tinyr2`. Each lives in its own cmd_<name>.cpp and registers here.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tinyr2::cli {

struct Command {
  // Adds the subcommand and its options to the app; returns the subcommand.
  std::function<CLI::App*(CLI::App&)> setup;
  // Runs it after parsing; returns the exit status.
  std::function<int()> execute;

  CLI::App* sub = nullptr;
  void attach(CLI::App& app) { sub = setup(app); }
  bool parsed() const;
  int run() const { return execute(); }
};

std::vector<Command> all_commands();

// One factory per command file.
Command make_version_command();
Command make_serve_command();  // cmd_serve.cpp (SPEC §14)
Command make_bench_command();
Command make_init_command();
Command make_logits_command();
Command make_info_command();
Command make_generate_command();
Command make_tokenize_command();
Command make_train_command();
Command make_eval_command();
Command make_prepare_command();
Command make_quantize_command();
Command make_convert_command();
Command make_merge_command();  // cmd_merge.cpp (SPEC §12)

}  // namespace tinyr2::cli
