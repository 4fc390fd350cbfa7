// r1: one binary, one subcommand per capability (docs/DESIGN.md "The CLI contract").
#include <string>
#include <vector>

#include "cli/command.h"

int main(int argc, char** argv) {
  return r1::cli::run_cli(std::vector<std::string>(argv + 1, argv + argc));
}
