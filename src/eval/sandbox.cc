#include "eval/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace r1::eval {

namespace {

constexpr uid_t kNobody = 65534;

void set_limit(int resource, uint64_t soft, uint64_t hard) {
  rlimit rl{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  setrlimit(resource, &rl);
}

// Writes a status byte (and errno) to the parent; only async-signal-safe calls.
void report(int fd, char code, int err) {
  char buf[1 + sizeof(int)];
  buf[0] = code;
  std::memcpy(buf + 1, &err, sizeof(int));
  ssize_t n = ::write(fd, buf, sizeof(buf));
  (void)n;
}

// The child between fork and exec: nothing here may allocate or take locks.
[[noreturn]] void child(char* const* argv, char* const* envp, const char* dir, int in_fd,
                        int out_fd, int err_fd, int status_fd, const SandboxLimits& limits) {
  setpgid(0, 0);
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  // Keep only 0-2 and the status pipe (moved to fd 3, still close-on-exec).
  if (status_fd != 3) {
    dup2(status_fd, 3);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    status_fd = 3;
  }
  if (syscall(SYS_close_range, 4u, ~0u, 0u) != 0)
    for (int fd = 4; fd < 65536; ++fd) close(fd);
  // A new network namespace needs CAP_SYS_ADMIN (root); without it, a new user namespace
  // (after dropping root, so the program never keeps root's file access) can hold one.
  // A new PID namespace as well, so that everything the program starts (even what leaves its
  // process group with setsid) dies with it: the program becomes PID 1 of the namespace.
  bool isolated = unshare(CLONE_NEWNET) == 0;
  bool pid_ns = unshare(CLONE_NEWPID) == 0;
  if (chdir(dir) != 0) {
    report(status_fd, 'd', errno);
    _exit(126);
  }
  uint64_t cpu = static_cast<uint64_t>(std::ceil(limits.cpu_seconds));
  set_limit(RLIMIT_CPU, cpu, cpu + 1);
  set_limit(RLIMIT_AS, limits.memory_bytes, limits.memory_bytes);
  set_limit(RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes);
  set_limit(RLIMIT_NPROC, limits.max_processes, limits.max_processes);
  set_limit(RLIMIT_NOFILE, 64, 64);
  set_limit(RLIMIT_CORE, 0, 0);
  if (geteuid() == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) {
      report(status_fd, 'u', errno);
      _exit(126);
    }
  }
  if (!isolated) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET | (pid_ns ? 0 : CLONE_NEWPID)) == 0) {
      isolated = true;
      pid_ns = true;
    } else {
      isolated = unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
    }
  }
  if (!isolated && limits.require_network_isolation) {
    report(status_fd, 'N', errno);
    _exit(126);
  }
  report(status_fd, isolated ? 'i' : 'o', 0);
  if (pid_ns) report(status_fd, 'p', 0);
  if (pid_ns) {
    // The first child in the new namespace runs the program; this process waits for it and
    // ends the same way, so the caller sees the program's exit status.
    pid_t init = fork();
    if (init < 0) {
      report(status_fd, 'f', errno);
      _exit(126);
    }
    if (init > 0) {
      close(0);
      close(1);
      close(2);
      close(status_fd);
      int st = 0;
      while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
      }
      if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        kill(getpid(), WTERMSIG(st));
      }
      _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    }
  }
  signal(SIGPIPE, SIG_DFL);
  execve(argv[0], argv, envp);
  report(status_fd, 'e', errno);
  _exit(127);
}

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const std::string& dir, const SandboxLimits& limits) {
  R1_ASSERT(!argv.empty());
  SandboxResult result;
  // Everything the child needs is prepared before fork.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "HOME=" + dir,
                                  "TMPDIR=" + dir,
                                  "LANG=C.UTF-8",
                                  "PYTHONDONTWRITEBYTECODE=1",
                                  "PYTHONHASHSEED=0",
                                  "OMP_NUM_THREADS=1",
                                  "OPENBLAS_NUM_THREADS=1"};
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  // stdin is a socket so that writing to a program that exited early gives EPIPE instead of a
  // SIGPIPE in r1 (send with MSG_NOSIGNAL).
  int in_pair[2], out_pipe[2], err_pipe[2], status_pipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
    fail_internal("socketpair: ", std::strerror(errno));
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(status_pipe, O_CLOEXEC) != 0)
    fail_internal("pipe: ", std::strerror(errno));

  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) fail_internal("fork: ", std::strerror(errno));
  if (pid == 0)
    child(cargv.data(), cenv.data(), dir.c_str(), in_pair[1], out_pipe[1], err_pipe[1],
          status_pipe[1], limits);
  setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
  close(in_pair[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(status_pipe[1]);

  int in_fd = in_pair[0];
  set_nonblocking(in_fd);
  set_nonblocking(out_pipe[0]);
  set_nonblocking(err_pipe[0]);
  size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  auto deadline = start + std::chrono::duration<double>(limits.wall_seconds);
  auto kill_group = [&] { kill(-pid, SIGKILL); };
  char buf[65536];
  while (out_open || err_open || !exited) {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      kill_group();  // anything the program left running
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      if (!exited) result.timed_out = true;
      kill_group();
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    int wait_ms = exited ? 20 : 10;
    if (n > 0) {
      poll(fds, n, wait_ms);
    } else {
      usleep(wait_ms * 1000);
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].fd == in_fd && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = send(in_fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
        if (written >= input.size()) {
          close(in_fd);
          in_fd = -1;
        }
      } else if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        bool is_out = fds[i].fd == out_pipe[0];
        ssize_t r = read(fds[i].fd, buf, sizeof(buf));
        if (r > 0) {
          (is_out ? result.out : result.err).append(buf, static_cast<size_t>(r));
          if (result.out.size() + result.err.size() > limits.output_bytes) {
            result.output_limit = true;
            kill_group();
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          (is_out ? out_open : err_open) = false;
        }
      }
    }
    if (result.output_limit) break;
    // After the program exited, a pipe still held open by a killed grandchild closes shortly;
    // stop waiting for it at the deadline.
  }
  if (!exited) {
    kill_group();
    waitpid(pid, &status, 0);
  }
  if (in_fd >= 0) close(in_fd);
  close(out_pipe[0]);
  close(err_pipe[0]);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Status bytes from the child: 'i'/'o' (network isolated or not), then an error code when
  // exec did not happen.
  char sbuf[64];
  ssize_t got = read(status_pipe[0], sbuf, sizeof(sbuf));
  close(status_pipe[0]);
  result.started = true;
  for (ssize_t off = 0; off + 1 + static_cast<ssize_t>(sizeof(int)) <= got;
       off += 1 + sizeof(int)) {
    char code = sbuf[off];
    int err = 0;
    std::memcpy(&err, sbuf + off + 1, sizeof(int));
    if (code == 'i') result.network_isolated = true;
    if (code == 'o') result.network_isolated = false;
    if (code == 'p') result.pid_namespace = true;
    if (code == 'N' || code == 'd' || code == 'u' || code == 'e' || code == 'f') {
      result.started = false;
      result.error = code == 'N'   ? "network isolation is not permitted here"
                     : code == 'd' ? "cannot enter the working directory: "
                     : code == 'u' ? "cannot switch to user nobody: "
                     : code == 'f' ? "cannot fork in the new PID namespace: "
                                   : "cannot execute " + argv[0] + ": ";
      if (code != 'N') result.error += std::strerror(err);
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "r1-sandbox-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) fail_internal("mkdtemp ", tmpl, ": ", std::strerror(errno));
  path_ = buf.data();
  if (geteuid() == 0 && chown(path_.c_str(), kNobody, kNobody) != 0)
    fail_internal("chown ", path_, ": ", std::strerror(errno));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::ofstream f(p, std::ios::binary);
  f << content;
  if (!f) fail_internal("cannot write ", p);
  f.close();
  chmod(p.c_str(), 0644);
}

}  // namespace r1::eval
