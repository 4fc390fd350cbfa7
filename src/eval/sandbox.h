// Running untrusted programs (model-written code) outside the r1 process, isolated and limited.
//
// Each run is a fresh process tree in its own namespaces (mount, PID, network, IPC, UTS; and a
// user namespace when r1 is not root), set up by r1 itself with no helper program:
//   - file system: a private, read-only root on a tmpfs holding only what programs need: /usr
//     (and the /bin, /lib... links to it) bound read-only, a minimal /etc (the dynamic linker's
//     cache, alternatives, a passwd and group naming root and nobody), /dev/null, zero, full,
//     random and urandom, a /proc of the run's own PID namespace. No home folders, no /run, /var,
//     /srv or host /tmp, so no host files beyond the system's programs and libraries, and no
//     host UNIX sockets (path sockets are not reachable; abstract ones belong to the network
//     namespace);
//   - writable space: /work (the working directory and HOME, holding the given files) and /tmp,
//     each a tmpfs of at most SandboxLimits::disk_bytes that exists only in the run's mount
//     namespace: nothing is ever written to the host's disk, so nothing can be left behind;
//   - no network: a network namespace with only a loopback device;
//   - an unprivileged user: as root, the program runs as nobody (65534) with no groups; otherwise
//     as the caller's own uid in a user namespace, where it holds no capabilities. No new
//     privileges (no setuid programs);
//   - lifetime: the program is PID 1 of its PID namespace, so everything it starts dies with it,
//     and the whole tree dies with r1 (PR_SET_PDEATHSIG at each level, so even a SIGKILL of r1
//     ends the run and frees its tmpfs);
//   - limits: rlimits on CPU seconds, address space, file size, processes, open files (64) and no
//     core dumps; a wall-clock timeout and an output cap, after which the process group is killed.
// Where the kernel refuses the namespaces (no user namespaces and not root), nothing runs: the
// result says why (started false), rather than running the program without isolation.
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
  uint64_t disk_bytes = 64ull << 20;   // size of each of /work and /tmp (tmpfs)
  uint64_t max_processes = 64;         // RLIMIT_NPROC
  uint64_t output_bytes = 4ull << 20;  // stdout + stderr captured; more kills the run
};

// A file placed in /work before the program starts.
struct SandboxFile {
  std::string name;  // a plain name, no '/'
  std::string content;
  bool executable = false;
};

struct SandboxResult {
  bool started = false;       // false: the program could not be run (see error)
  int exit_code = -1;         // when it exited normally
  int signal = 0;             // when a signal ended it (SIGKILL after a timeout, SIGXCPU, ...)
  bool timed_out = false;     // the wall-clock limit was reached
  bool output_limit = false;  // the output cap was reached
  double wall_seconds = 0;
  std::string out, err;
  std::string error;  // why it did not start
  bool ok() const { return started && exit_code == 0 && !timed_out && !output_limit; }
};

// Runs argv (argv[0] an absolute path as the program sees it: a system program under /usr or
// /bin, or /work/NAME for a given file) in /work holding `files`, with `input` on stdin.
SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const std::vector<SandboxFile>& files, const SandboxLimits& limits);

}  // namespace r1::eval
