// Running the r1 binary from CLI tests: stdin text in; stdout, stderr and the exit code out.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace r1::testing {

struct CliResult {
  std::string out, err;
  int code = -1;
};

// A path inside the source tree.
inline std::string source(const std::string& rel) {
  return std::string(R1_SOURCE_DIR) + "/" + rel;
}

inline std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `r1 ARGS` (ARGS shell-quoted by the caller) with `input` on stdin and `env` (shell
// assignments such as "R1_MEMORY_LIMIT=64M") in its environment.
inline CliResult run_r1(const std::string& args, const std::string& input = "",
                        const std::string& env = "") {
  static std::atomic<int> counter{0};
  const std::string base =
      "/tmp/r1_cli_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  std::ofstream(base + ".in", std::ios::binary) << input;
  const std::string cmd = env + " " + std::string(R1_BINARY) + " " + args + " < " + base +
                          ".in > " + base + ".out 2> " + base + ".err";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.out = slurp_file(base + ".out");
  r.err = slurp_file(base + ".err");
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  for (const char* ext : {".in", ".out", ".err"}) std::remove((base + ext).c_str());
  return r;
}

}  // namespace r1::testing
