#include "cli/commands.h"

#include <CLI/CLI.hpp>

namespace tinyr2::cli {

bool Command::parsed() const {
  return sub && sub->parsed();
}

std::vector<Command> all_commands() {
  return {make_generate_command(), make_init_command(),     make_logits_command(),
          make_info_command(),     make_tokenize_command(), make_train_command(),
          make_eval_command(),     make_bench_command(),    make_version_command(),
          make_serve_command(),    make_quantize_command(), make_convert_command(),
          make_prepare_command(),  make_merge_command()};
}

}  // namespace tinyr2::cli
