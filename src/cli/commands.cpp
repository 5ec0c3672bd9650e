#include "cli/commands.h"

#include <CLI/CLI.hpp>

namespace tinyr2::cli {

bool Command::parsed() const { return sub && sub->parsed(); }

std::vector<Command> all_commands() {
  return {make_version_command(), make_bench_command()};
}

}  // namespace tinyr2::cli
