// The JSON and JSONL that commands read on stdin, through the CLI itself (the same dispatch,
// flags and error handling as the r1 binary): the first byte picks the command, the rest is
// stdin. Exit code 1 (an internal error) is a finding; 0 and 2 are the contract.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string model = std::string(R1_SOURCE_DIR) + "/models/r1-tiny-random";
  static const std::vector<std::vector<std::string>> commands = {
      {"score", "--jsonl", "-m", model, "--threads", "1"},
      {"score", "-m", model, "--threads", "1"},
      {"tokenize", "--jsonl", "-m", model},
      {"tokenize", "-m", model},
      {"template", "-m", model},
      {"eval", "grade"},
      {"eval", "grade", "--task", "gsm8k"},
      {"eval", "grade", "--task", "aime"},
      {"eval", "extract"}};
  const auto& words = commands[data[0] % commands.size()];
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Code answers would start a sandbox per input: the fuzzer grades math, not programs.
  for (size_t k = input.find("code"); k != std::string::npos; k = input.find("code", k))
    input[k + 1] = '0';
  std::istringstream in(input);
  std::ostringstream out;
  auto* saved_in = std::cin.rdbuf(in.rdbuf());
  auto* saved_out = std::cout.rdbuf(out.rdbuf());
  const int code = r1::cli::run_cli(words);
  std::cin.rdbuf(saved_in);
  std::cout.rdbuf(saved_out);
  r1::fuzz::check(code == 0 || code == 2, "exit code 0 or 2 (1 is an internal error)");
  return 0;
}
