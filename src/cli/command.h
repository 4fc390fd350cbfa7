// The r1 subcommands. Each lives in its own cmd_<name>.cc and registers itself here with a
// static R1_COMMAND(...) so that main.cc needs no list of them.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"

namespace r1::cli {

struct Command {
  // One word ("generate") or a group and a word ("train sft"): `r1 train sft --flags`.
  const char* name;
  const char* summary;  // one line for `r1 help`
  const char* usage;    // the flags, printed by `r1 help NAME`
  std::vector<std::string> bool_flags;
  int (*run)(Args& args);  // returns the exit code; throws r1::Error on failure
  int flag_sets = 0;       // kModelFlags | kSamplingFlags: shared flag blocks shown in help
};

constexpr int kModelFlags = 1, kSamplingFlags = 2;

int register_command(const Command& c);
// How many words a command name has, and whether argv (after "r1") starts with them.
size_t name_words(const std::string& name);
bool matches(const std::string& name, const std::vector<std::string>& words);
const std::vector<Command>& commands();
// Runs the command the words (after "r1") name and returns its exit code: 0 success, 2 bad usage
// or input, 1 internal failure (each error one line on stderr).
int run_cli(const std::vector<std::string>& words);

}  // namespace r1::cli

#define R1_CONCAT2(a, b) a##b
#define R1_CONCAT(a, b) R1_CONCAT2(a, b)
#define R1_COMMAND(...) \
  static const int R1_CONCAT(r1_command_, __LINE__) = ::r1::cli::register_command(__VA_ARGS__)
