// The command registry and dispatch: the words after "r1" to a command, its errors to one line on
// stderr and an exit code (docs/DESIGN.md "The CLI contract": 0 success, 2 bad usage or bad input,
// 1 internal failure).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"

namespace r1::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

void print_help() {
  std::printf("r1: the DeepSeek-R1 system\n\nusage: r1 COMMAND [flags]\n\ncommands:\n");
  for (const auto& c : commands()) std::printf("  %-18s %s\n", c.name, c.summary);
  std::printf("\n`r1 help COMMAND` shows a command's flags.\n");
}
}  // namespace

// `r1 help GROUP`: the commands named "GROUP ...", with their summaries.
bool print_group(const std::string& group, FILE* out) {
  bool any = false;
  for (const auto& c : commands())
    if (std::string(c.name).rfind(group + " ", 0) == 0) {
      if (!any) std::fprintf(out, "r1 %s: one of\n", group.c_str());
      std::fprintf(out, "  %-18s %s\n", c.name, c.summary);
      any = true;
    }
  return any;
}

size_t name_words(const std::string& name) {
  return static_cast<size_t>(std::count(name.begin(), name.end(), ' ')) + 1;
}

bool matches(const std::string& name, const std::vector<std::string>& words) {
  const size_t n = name_words(name);
  if (words.size() < n) return false;
  std::string joined = words[0];
  for (size_t i = 1; i < n; ++i) joined += " " + words[i];
  return joined == name;
}

int register_command(const Command& c) {
  registry().push_back(c);
  return 0;
}
const std::vector<Command>& commands() {
  return registry();
}

static void print_command_help(const Command& c) {
  std::printf("r1 %s: %s\n\n%s", c.name, c.summary, c.usage);
  if (c.flag_sets & kModelFlags) std::printf("model:\n%s", kModelFlagsUsage);
  if (c.flag_sets & kSamplingFlags) std::printf("sampling:\n%s", kSamplingFlagsUsage);
}

int run_cli(const std::vector<std::string>& words) {
  if (words.empty() || words[0] == "help" || words[0] == "--help" || words[0] == "-h") {
    if (words.size() >= 2) {
      for (const auto& c : commands())
        if (name_words(c.name) <= words.size() - 1 &&
            matches(c.name, std::vector<std::string>(words.begin() + 1, words.end()))) {
          print_command_help(c);
          return 0;
        }
      if (print_group(words[1], stdout)) return 0;
      std::fprintf(stderr, "r1: error: unknown command '%s'\n", words[1].c_str());
      return 2;
    }
    print_help();
    return words.empty() ? 2 : 0;
  }
  for (const auto& c : commands()) {
    if (!matches(c.name, words)) continue;
    // `r1 COMMAND ... --help` (or -h) anywhere among the flags: the command's help, as r1 help.
    if (std::any_of(words.begin() + name_words(c.name), words.end(),
                    [](const std::string& w) { return w == "--help" || w == "-h"; })) {
      print_command_help(c);
      return 0;
    }
    try {
      Args args(std::vector<std::string>(words.begin() + name_words(c.name), words.end()),
                c.bool_flags);
      return c.run(args);
    } catch (const r1::Error& e) {
      std::fprintf(stderr, "r1 %s: error: %s\n", c.name, e.what());
      return e.kind() == r1::ErrorKind::Internal ? 1 : 2;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "r1 %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "r1 %s: internal error: %s\n", c.name, e.what());
      return 1;
    }
  }
  if (words.size() == 1 || words[1].empty() || words[1][0] == '-') {
    std::string names;
    for (const auto& c : commands())
      if (std::string(c.name).rfind(words[0] + " ", 0) == 0)
        names += (names.empty() ? "" : ", ") + std::string(c.name).substr(words[0].size() + 1);
    if (!names.empty()) {
      std::fprintf(stderr, "r1 %s: error: choose one of: %s (r1 help %s)\n", words[0].c_str(),
                   names.c_str(), words[0].c_str());
      return 2;
    }
  }
  std::fprintf(stderr, "r1: error: unknown command '%s' (try r1 help)\n", words[0].c_str());
  return 2;
}

}  // namespace r1::cli
