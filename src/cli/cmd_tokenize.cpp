// `tinyr2 tokenize [--decode] [--special] (--text S | --file F)`: GPT-2 token ids of a text,
// space-separated on one line; with --decode, reads ids (separated by spaces, commas or
// newlines) and writes their bytes back exactly, with no newline added, so that
//   tinyr2 tokenize --file a.txt | tinyr2 tokenize --decode --file -   reproduces a.txt.
// `--file -` reads standard input. --special turns "<|endoftext|>" in the text into 50256
// (otherwise it is ordinary text).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "io/file_io.h"

namespace tinyr2::cli {

namespace {

std::string read_input(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  return io::read_whole_file(path, "input file");
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  auto separator = [](char c) {
    return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t';
  };
  while (i < text.size()) {
    if (separator(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !separator(text[j])) ++j;
    const std::string word = text.substr(i, j - i);
    int64_t value = 0;
    const bool digits =
        word.size() <= 9 && word.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) fail("not a token id: '{}'", word);
    value = std::stoll(word);
    ids.push_back(static_cast<int32_t>(value));
    i = j;
  }
  return ids;
}

}  // namespace

Command make_tokenize_command() {
  struct Options {
    bool decode = false;
    bool special = false;
    std::string text;
    std::string file;
    CLI::Option* file_option = nullptr;
  };
  auto opt = std::make_shared<Options>();
  Command c;
  c.setup = [opt](CLI::App& app) {
    CLI::App* sub = app.add_subcommand(
        "tokenize",
        "GPT-2 token ids of a text (space-separated), or with --decode the text of ids");
    sub->add_flag("--decode", opt->decode,
                  "read token ids and print their text (no newline added)");
    sub->add_flag("--special", opt->special, "encode \"<|endoftext|>\" as the special token 50256");
    CLI::Option_group* input = sub->add_option_group("input", "exactly one of");
    input->add_option("--text", opt->text, "the input itself");
    opt->file_option =
        input->add_option("--file", opt->file, "read the input from a file ('-' = stdin)");
    input->require_option(1);
    return sub;
  };
  c.execute = [opt]() -> int {
    const std::string input = opt->file_option->count() ? read_input(opt->file) : opt->text;
    const auto tokenizer = data::Tokenizer::load();
    if (opt->decode) {
      const std::string text = tokenizer.decode(parse_ids(input));
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return 0;
    }
    const std::vector<int32_t> ids = tokenizer.encode(input, opt->special);
    std::string line;
    line.reserve(ids.size() * 6);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) line.push_back(' ');
      line += std::to_string(ids[i]);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    return 0;
  };
  return c;
}

}  // namespace tinyr2::cli
