// Running untrusted programs (model-written code) outside the r1 process, with limits.
//
// Each run is a fork+exec of a separate process in its own process group, with:
//   - rlimits: CPU seconds (RLIMIT_CPU), address space (RLIMIT_AS), file size (RLIMIT_FSIZE),
//     processes (RLIMIT_NPROC; per user, and not enforced by Linux for root, hence the next point),
//     open files (RLIMIT_NOFILE 64) and no core dumps;
//   - when r1 runs as root: the program runs as the unprivileged user nobody (65534) with no
//     supplementary groups, so it cannot read private files or change the system;
//   - no network: a new network namespace holding only a loopback device (unshare(CLONE_NEWNET)
//     while still root; otherwise, after dropping root, unshare(CLONE_NEWUSER | CLONE_NEWNET),
//     which unprivileged users may do where user namespaces are enabled). If neither is permitted
//     (e.g. a container without CAP_SYS_ADMIN and without user namespaces) the run goes on WITH
//     network access and SandboxResult::network_isolated is false, unless
//     SandboxLimits::require_network_isolation is set, in which case the program is not started;
//   - a throwaway working directory (TempDir) as cwd and HOME, a minimal environment, all other
//     file descriptors closed;
//   - a wall-clock timeout and an output cap, after either of which the whole process group is
//     killed with SIGKILL; the group is also killed when the program exits;
//   - a new PID namespace where permitted (same rules as the network namespace), in which the
//     program is PID 1: when it ends, the kernel kills everything it started, even processes that
//     left its process group. Without one, such a process (setsid) could outlive the run.
// What this does not do: the file system is not hidden (world-readable files stay readable), and
// there is no seccomp filter. Run r1 eval on code in a container when that matters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::eval {

struct SandboxLimits {
  double cpu_seconds = 6;              // RLIMIT_CPU (LiveCodeBench: ~6 s per test)
  double wall_seconds = 12;            // then the process group is killed
  uint64_t memory_bytes = 2ull << 30;  // RLIMIT_AS
  uint64_t file_bytes = 16ull << 20;   // RLIMIT_FSIZE
  uint64_t max_processes = 64;         // RLIMIT_NPROC
  uint64_t output_bytes = 4ull << 20;  // stdout + stderr captured; more kills the run
  bool require_network_isolation = false;
};

struct SandboxResult {
  bool started = false;       // false: the program could not be executed (see error)
  int exit_code = -1;         // when it exited normally
  int signal = 0;             // when a signal ended it (SIGKILL after a timeout, SIGXCPU, ...)
  bool timed_out = false;     // the wall-clock limit was reached
  bool output_limit = false;  // the output cap was reached
  bool network_isolated = false;
  bool pid_namespace = false;  // the program ran as PID 1 of its own PID namespace
  double wall_seconds = 0;
  std::string out, err;
  std::string error;  // why it did not start
  bool ok() const { return started && exit_code == 0 && !timed_out && !output_limit; }
};

// Runs argv (argv[0] an absolute path) with `input` on stdin and `dir` as the working directory.
SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const std::string& dir, const SandboxLimits& limits);

// A fresh directory under the system temp folder, removed with its contents on destruction. When
// r1 runs as root it is owned by nobody so the sandboxed program can write in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes a file in the directory (readable by the sandboxed program).
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace r1::eval
