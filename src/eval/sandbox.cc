#include "eval/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace r1::eval {

namespace {

constexpr uid_t kNobody = 65534;
// The new root is assembled on a tmpfs mounted over /tmp, which only the run's own mount
// namespace sees, then becomes / (pivot_root).
constexpr const char* kStage = "/tmp";

// What the sandboxed process does between fork and exec, prepared in full before fork: r1 has
// threads, so the child may only make system calls (no allocation, no locks).
struct Plan {
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, env;
  std::vector<std::string> dirs;                                  // created in the new root
  std::vector<std::pair<std::string, std::string>> links;         // symlink (target, path)
  std::vector<std::pair<std::string, std::string>> binds;         // read-only bind (source, target)
  std::vector<std::string> bind_files;                            // targets created as empty files
  std::vector<std::pair<std::string, std::string>> writes;        // (path, content) before pivot
  std::vector<std::pair<std::string, const SandboxFile*>> files;  // into /work
  std::string root_opts, tmp_opts, work_opts;                     // tmpfs options
  std::string uid_map, gid_map;
  std::string stage_old, stage_proc, stage_tmp, stage_work;
  bool as_root = false;
  uid_t uid = 0;  // the program's uid and gid
  gid_t gid = 0;
};

// Writes a status byte and errno to the parent; only async-signal-safe calls.
void report(int fd, char code, int err) {
  char buf[1 + sizeof(int)];
  buf[0] = code;
  std::memcpy(buf + 1, &err, sizeof(int));
  ssize_t n = ::write(fd, buf, sizeof(buf));
  (void)n;
}

[[noreturn]] void fail_step(int fd, char code) {
  report(fd, code, errno);
  _exit(126);
}

void set_limit(int resource, uint64_t soft, uint64_t hard) {
  rlimit rl{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  setrlimit(resource, &rl);
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool write_file(const char* path, const char* data, size_t n, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return false;
  const bool ok = write_all(fd, data, n);
  close(fd);
  return ok;
}

// A read-only bind mount. The remount keeps the flags the source mount has (a user namespace may
// not clear them) and adds nosuid and nodev.
bool bind_read_only(const char* source, const char* target) {
  if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
  struct statvfs st;
  if (statvfs(target, &st) != 0) return false;
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return mount(nullptr, target, nullptr, flags, nullptr) == 0;
}

// PID 1 of the new namespaces: builds the file system, drops privileges, execs the program.
[[noreturn]] void run_init(const Plan& p, int status_fd, int lifeline, const SandboxLimits& lim) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd alive{lifeline, POLLIN, 0};  // the write end is held by our parent until it dies
  if (poll(&alive, 1, 0) > 0) _exit(126);
  // File system. Nothing mounted here propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail_step(status_fd, 'M');
  if (mount("tmpfs", kStage, "tmpfs", MS_NOSUID | MS_NODEV, p.root_opts.c_str()) != 0)
    fail_step(status_fd, 'M');
  for (const auto& d : p.dirs)
    if (mkdir(d.c_str(), 0755) != 0) fail_step(status_fd, 'M');
  for (const auto& [target, path] : p.links)
    if (symlink(target.c_str(), path.c_str()) != 0) fail_step(status_fd, 'M');
  for (const auto& f : p.bind_files)
    if (!write_file(f.c_str(), "", 0, 0644)) fail_step(status_fd, 'M');
  for (const auto& [source, target] : p.binds)
    if (!bind_read_only(source.c_str(), target.c_str())) fail_step(status_fd, 'B');
  for (const auto& [path, content] : p.writes)
    if (!write_file(path.c_str(), content.data(), content.size(), 0644)) fail_step(status_fd, 'M');
  if (mount("tmpfs", p.stage_tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmp_opts.c_str()) != 0 ||
      mount("tmpfs", p.stage_work.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.work_opts.c_str()) != 0)
    fail_step(status_fd, 'M');
  for (const auto& [path, f] : p.files) {
    if (!write_file(path.c_str(), f->content.data(), f->content.size(),
                    f->executable ? 0755 : 0644) ||
        chown(path.c_str(), p.uid, p.gid) != 0)
      fail_step(status_fd, 'W');
  }
  // A /proc of this PID namespace only.
  if (mount("proc", p.stage_proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    fail_step(status_fd, 'P');
  if (syscall(SYS_pivot_root, kStage, p.stage_old.c_str()) != 0) fail_step(status_fd, 'R');
  if (chdir("/") != 0 || umount2("/.old", MNT_DETACH) != 0 || rmdir("/.old") != 0)
    fail_step(status_fd, 'R');
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr) != 0)
    fail_step(status_fd, 'R');
  if (chdir("/work") != 0) fail_step(status_fd, 'R');
  sethostname("sandbox", 7);

  uint64_t cpu = static_cast<uint64_t>(std::ceil(lim.cpu_seconds));
  set_limit(RLIMIT_CPU, cpu, cpu + 1);
  set_limit(RLIMIT_AS, lim.memory_bytes, lim.memory_bytes);
  set_limit(RLIMIT_FSIZE, lim.file_bytes, lim.file_bytes);
  set_limit(RLIMIT_NPROC, lim.max_processes, lim.max_processes);
  set_limit(RLIMIT_NOFILE, 64, 64);
  set_limit(RLIMIT_CORE, 0, 0);
  if (p.as_root && (setgroups(0, nullptr) != 0 || setresgid(p.gid, p.gid, p.gid) != 0 ||
                    setresuid(p.uid, p.uid, p.uid) != 0))
    fail_step(status_fd, 'u');
  // After the credentials change (which clears it): die with our parent, and never gain
  // privileges through exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  report(status_fd, 'i', 0);
  signal(SIGPIPE, SIG_DFL);
  execve(p.argv[0], p.argv.data(), p.env.data());
  fail_step(status_fd, 'e');
}

// The process r1 forks: enters new namespaces, starts PID 1 of the PID namespace and reports how
// it ended, as its own exit status.
[[noreturn]] void run_child(const Plan& p, pid_t r1_pid, int in_fd, int out_fd, int err_fd,
                            int status_fd, const SandboxLimits& lim) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != r1_pid) _exit(126);  // r1 died before the line above
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
  // Our /proc/self files must be ours to write the id maps (a process that changed its uid is
  // not dumpable, and its /proc files then belong to root).
  if (!p.as_root) prctl(PR_SET_DUMPABLE, 1);
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!p.as_root) flags |= CLONE_NEWUSER;
  if (unshare(flags) != 0) fail_step(status_fd, 'N');
  if (!p.as_root) {
    // Our own uid and gid map to themselves; setgroups must be denied before gid_map is written.
    for (const auto& [file, text] : {std::pair{"/proc/self/setgroups", "deny"},
                                     std::pair{"/proc/self/uid_map", p.uid_map.c_str()},
                                     std::pair{"/proc/self/gid_map", p.gid_map.c_str()}}) {
      int fd = open(file, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || !write_all(fd, text, std::strlen(text))) fail_step(status_fd, 'N');
      close(fd);
    }
  }
  int lifeline[2];
  if (pipe2(lifeline, O_CLOEXEC) != 0) fail_step(status_fd, 'f');
  pid_t init = fork();
  if (init < 0) fail_step(status_fd, 'f');
  if (init == 0) {
    close(lifeline[1]);
    run_init(p, status_fd, lifeline[0], lim);
  }
  close(lifeline[0]);
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

Plan make_plan(const std::vector<std::string>& argv, const std::vector<SandboxFile>& files,
               const SandboxLimits& lim) {
  Plan p;
  p.as_root = geteuid() == 0;
  p.uid = p.as_root ? kNobody : getuid();
  p.gid = p.as_root ? kNobody : getgid();
  p.uid_map = std::to_string(p.uid) + " " + std::to_string(p.uid) + " 1\n";
  p.gid_map = std::to_string(p.gid) + " " + std::to_string(p.gid) + " 1\n";
  p.argv_s = argv;
  p.env_s = {"PATH=/usr/local/bin:/usr/bin:/bin",
             "HOME=/work",
             "TMPDIR=/tmp",
             "LANG=C.UTF-8",
             "PYTHONDONTWRITEBYTECODE=1",
             "PYTHONHASHSEED=0",
             "OMP_NUM_THREADS=1",
             "OPENBLAS_NUM_THREADS=1"};
  for (auto& a : p.argv_s) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_s) p.env.push_back(e.data());
  p.env.push_back(nullptr);

  const std::string stage = kStage;
  auto at = [&](const std::string& path) { return stage + path; };
  p.stage_old = at("/.old");
  p.stage_proc = at("/proc");
  p.stage_tmp = at("/tmp");
  p.stage_work = at("/work");
  const std::string ids = ",uid=" + std::to_string(p.uid) + ",gid=" + std::to_string(p.gid);
  p.root_opts = "size=1m,mode=0755";
  const std::string disk = "size=" + std::to_string(lim.disk_bytes) + ids;
  p.tmp_opts = disk + ",mode=1777";
  p.work_opts = disk + ",mode=0755";
  for (const char* d : {"/.old", "/proc", "/tmp", "/work", "/etc", "/dev"}) p.dirs.push_back(at(d));
  // The system's programs and libraries, as the host lays them out (merged-/usr links or folders).
  for (const char* top : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st;
    if (lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(top, target, sizeof(target) - 1);
      if (n > 0) p.links.push_back({std::string(target, static_cast<size_t>(n)), at(top)});
    } else if (S_ISDIR(st.st_mode)) {
      p.dirs.push_back(at(top));
      p.binds.push_back({top, at(top)});
    }
  }
  // What dynamic linking and interpreters read from /etc; users and groups of our own.
  for (const char* f : {"/etc/ld.so.cache", "/etc/ld.so.conf"}) {
    struct stat st;
    if (stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
      p.bind_files.push_back(at(f));
      p.binds.push_back({f, at(f)});
    }
  }
  for (const char* d : {"/etc/ld.so.conf.d", "/etc/alternatives"}) {
    struct stat st;
    if (stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
      p.dirs.push_back(at(d));
      p.binds.push_back({d, at(d)});
    }
  }
  const std::string user = std::to_string(p.uid), group = std::to_string(p.gid);
  p.writes.push_back({at("/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nsandbox:x:" + user + ":" +
                                             group + "::/work:/bin/sh\n"});
  p.writes.push_back({at("/etc/group"), "root:x:0:\nsandbox:x:" + group + ":\n"});
  p.writes.push_back({at("/etc/hosts"), "127.0.0.1 localhost\n"});
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
    p.bind_files.push_back(at(dev));
    p.binds.push_back({dev, at(dev)});
  }
  p.links.push_back({"/proc/self/fd", at("/dev/fd")});
  p.links.push_back({"/proc/self/fd/0", at("/dev/stdin")});
  p.links.push_back({"/proc/self/fd/1", at("/dev/stdout")});
  p.links.push_back({"/proc/self/fd/2", at("/dev/stderr")});
  for (const SandboxFile& f : files) {
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." || f.name == "..")
      fail_internal("sandbox file name '", f.name, "' is not a plain name");
    p.files.push_back({at("/work/" + f.name), &f});
  }
  return p;
}

std::string step_error(char code, int err, const std::string& program) {
  const std::string why = std::strerror(err);
  switch (code) {
    case 'N':
      return "cannot create the sandbox's namespaces (" + why +
             "; r1 needs root or unprivileged user namespaces to run code)";
    case 'M':
      return "cannot build the sandbox's file system: " + why;
    case 'B':
      return "cannot bind the system folders into the sandbox: " + why;
    case 'W':
      return "cannot write the program's files into the sandbox: " + why;
    case 'P':
      return "cannot mount the sandbox's /proc: " + why;
    case 'R':
      return "cannot switch to the sandbox's root: " + why;
    case 'u':
      return "cannot switch to user nobody: " + why;
    case 'f':
      return "cannot start the sandbox's first process: " + why;
    default:
      return "cannot execute " + program + ": " + why;
  }
}

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const std::vector<SandboxFile>& files, const SandboxLimits& limits) {
  R1_ASSERT(!argv.empty());
  SandboxResult result;
  const Plan plan = make_plan(argv, files, limits);

  // stdin is a socket so that writing to a program that exited early gives EPIPE instead of a
  // SIGPIPE in r1 (send with MSG_NOSIGNAL).
  int in_pair[2], out_pipe[2], err_pipe[2], status_pipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
    fail_internal("socketpair: ", std::strerror(errno));
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(status_pipe, O_CLOEXEC) != 0)
    fail_internal("pipe: ", std::strerror(errno));

  auto start = std::chrono::steady_clock::now();
  const pid_t self = getpid();
  pid_t pid = fork();
  if (pid < 0) fail_internal("fork: ", std::strerror(errno));
  if (pid == 0) run_child(plan, self, in_pair[1], out_pipe[1], err_pipe[1], status_pipe[1], limits);
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

  // Status bytes: 'i' once the sandbox is complete, else the code of the step that failed.
  char sbuf[64];
  ssize_t got = read(status_pipe[0], sbuf, sizeof(sbuf));
  close(status_pipe[0]);
  result.started = false;
  result.error = "the sandbox ended before it was set up";
  for (ssize_t off = 0; off + 1 + static_cast<ssize_t>(sizeof(int)) <= got;
       off += 1 + sizeof(int)) {
    const char code = sbuf[off];
    int err = 0;
    std::memcpy(&err, sbuf + off + 1, sizeof(int));
    if (code == 'i') {
      result.started = true;
      result.error.clear();
    } else {
      result.started = false;
      result.error = step_error(code, err, argv[0]);
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace r1::eval
