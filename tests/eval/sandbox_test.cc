// The sandbox: each limit shown to bite on a program that tries to exceed it, and each way out of
// the isolation tried by a program that attempts it. Nothing here is skipped: where the kernel
// refuses namespaces, run_sandboxed refuses to run, and these tests fail.
#include "eval/sandbox.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"

namespace r1::eval {
namespace {

namespace fs = std::filesystem;
const std::string kPython = "/usr/bin/python3";

SandboxResult run_python(const std::string& code, const SandboxLimits& limits = {},
                         const std::string& input = "") {
  return run_sandboxed({kPython, "-I", "main.py"}, input, {{"main.py", code}}, limits);
}

// Runs a Python program and returns its stdout, failing the test if it did not run cleanly.
std::string output_of(const std::string& code) {
  auto r = run_python(code);
  EXPECT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(Sandbox, RunsAProgramWithStdinAndCapturesOutput) {
  auto r = run_python(
      "import sys\ndata = sys.stdin.read()\nprint(data.upper(), end='')\n"
      "print('err', file=sys.stderr)\nraise SystemExit(3)",
      {}, "hello\nworld\n");
  EXPECT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "HELLO\nWORLD\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.ok());
}

TEST(Sandbox, LargeStdinIsDelivered) {
  std::string input(5 << 20, 'x');
  auto r = run_python("import sys\nprint(len(sys.stdin.read()))", {}, input);
  EXPECT_EQ(r.out, std::to_string(input.size()) + "\n");
  // a program that never reads its input does not block the sandbox
  r = run_python("print('done')", {}, input);
  EXPECT_EQ(r.out, "done\n");
}

TEST(Sandbox, FilesAreGivenInWorkAndExecutablesRun) {
  auto r =
      run_sandboxed({"/bin/sh", "-c", "cat data.txt; ./tool.sh; pwd; echo $HOME $TMPDIR"}, "",
                    {{"data.txt", "some data\n"}, {"tool.sh", "#!/bin/sh\necho tool\n", true}}, {});
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.out, "some data\ntool\n/work\n/work /tmp\n") << r.err;
  EXPECT_THROW(run_sandboxed({"/bin/true"}, "", {{"../escape", "x"}}, {}), Error);
}

TEST(Sandbox, WallClockTimeoutKillsTheProcessGroup) {
  SandboxLimits l;
  l.wall_seconds = 1;
  // the child sleeps (no CPU), and starts a grandchild that would outlive it
  auto r = run_python(
      "import subprocess, time\nsubprocess.Popen(['/bin/sleep', '30'])\n"
      "time.sleep(30)",
      l);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(r.wall_seconds, 5);
}

TEST(Sandbox, NothingOutlivesTheProgram) {
  // A grandchild leaves the process group (setsid), keeps stdout open and sleeps; the program
  // itself exits at once. It is PID 1 of its namespace, so the grandchild dies with it and the
  // run ends long before the wall-clock limit.
  SandboxLimits l;
  l.wall_seconds = 8;
  auto r = run_python(
      "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n"
      "    os._exit(0)\nprint('parent done')",
      l);
  EXPECT_EQ(r.out, "parent done\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.wall_seconds, 4) << "a process escaped the run";
}

TEST(Sandbox, CpuLimit) {
  SandboxLimits l;
  l.cpu_seconds = 1;
  l.wall_seconds = 20;
  auto r = run_python("while True: pass", l);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.signal == SIGXCPU || r.signal == SIGKILL) << r.signal;
  EXPECT_LT(r.wall_seconds, 15);  // CPU seconds, on a machine that may be busy
}

TEST(Sandbox, MemoryLimit) {
  SandboxLimits l;
  l.memory_bytes = 256ull << 20;
  auto r = run_python("x = bytearray(1 << 30)\nprint('allocated')", l);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("MemoryError"), std::string::npos) << r.err;
}

TEST(Sandbox, FileSizeLimit) {
  SandboxLimits l;
  l.file_bytes = 1 << 20;
  auto r = run_python(
      "import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
      "f = open('big', 'wb')\nf.write(b'x' * (4 << 20))\nf.close()",
      l);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
}

TEST(Sandbox, WritableSpaceIsSmallAndPrivate) {
  // /work and /tmp hold disk_bytes each; more is "No space left on device". Nothing of it reaches
  // the host: none of the files the run writes appears in the host's /tmp, /var/tmp or /dev/shm.
  // (Not a comparison of whole listings: tests running beside this one create files there.)
  auto leaked = [] {
    std::vector<std::string> found;
    for (const char* d : {"/tmp", "/var/tmp", "/dev/shm"})
      for (const char* name : {"fill", "r1-sandbox-leak"})
        if (fs::exists(std::string(d) + "/" + name)) found.push_back(std::string(d) + "/" + name);
    return found;
  };
  ASSERT_EQ(leaked(), std::vector<std::string>{}) << "left over from an earlier run";
  SandboxLimits l;
  l.disk_bytes = 2 << 20;
  auto r = run_python(
      "import os\n"
      "for d in ['/work', '/tmp']:\n"
      "    try:\n"
      "        with open(d + '/fill', 'wb') as f:\n"
      "            for i in range(8):\n"
      "                f.write(b'x' * (1 << 20))\n"
      "        print(d, 'filled')\n"
      "    except OSError as e:\n"
      "        print(d, 'full', e.errno == 28)\n"
      "for d in ['/var/tmp', '/dev/shm', '/', '/usr', '/etc']:\n"
      "    try:\n"
      "        open(d + '/r1-sandbox-leak', 'w').write('x')\n"
      "        print(d, 'WRITTEN')\n"
      "    except OSError:\n"
      "        print(d, 'refused')\n",
      l);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.out,
            "/work full True\n/tmp full True\n/var/tmp refused\n/dev/shm refused\n/ refused\n"
            "/usr refused\n/etc refused\n")
      << r.err;
  EXPECT_EQ(leaked(), std::vector<std::string>{});
}

TEST(Sandbox, SeesNoHostFiles) {
  // A file only root could read, a world-readable file in a home-like place and one in the host's
  // /tmp: none is visible. The root holds only the system's programs and the sandbox's own files.
  const fs::path host_tmp = fs::temp_directory_path() / "r1-sandbox-secret.txt";
  std::ofstream(host_tmp) << "secret";
  fs::permissions(host_tmp, fs::perms::all);
  const std::string out = output_of(
      "import os\n"
      "print(sorted(os.listdir('/')))\n"
      "for p in ['/tmp/r1-sandbox-secret.txt', '/etc/shadow', '/root', '/home', '/var', '/run',"
      " '/srv', '/proc/1/root/etc/shadow', '/sys']:\n"
      "    print(p, os.path.exists(p))\n"
      "print(sorted(os.listdir('/etc')))\n"
      "print(open('/etc/passwd').read().count('\\n'))\n");
  fs::remove(host_tmp);
  // The root: the sandbox's own folders and the host's system folders (or links), nothing else.
  std::vector<std::string> names = {"dev", "etc", "proc", "tmp", "work"};
  for (const char* top : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"})
    if (fs::exists(fs::symlink_status(std::string("/") + top))) names.push_back(top);
  std::sort(names.begin(), names.end());
  std::string want = "[";
  for (const auto& n : names) want += (want.size() > 1 ? ", '" : "'") + n + "'";
  EXPECT_EQ(out.substr(0, out.find('\n')), want + "]");
  for (const char* p :
       {"/tmp/r1-sandbox-secret.txt False", "/etc/shadow False", "/root False", "/home False",
        "/var False", "/run False", "/srv False", "/proc/1/root/etc/shadow False", "/sys False"})
    EXPECT_NE(out.find(p), std::string::npos) << p << "\n" << out;
  EXPECT_NE(out.find("['alternatives', 'group', 'hosts', 'ld.so.cache', 'ld.so.conf', "
                     "'ld.so.conf.d', 'passwd']"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\n2\n"), std::string::npos) << "passwd names root and the sandbox user";
}

TEST(Sandbox, ProcShowsOnlyTheRun) {
  // The program is PID 1; r1 and every other host process are invisible.
  const std::string out = output_of(
      "import os\nprint(os.getpid())\n"
      "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n");
  EXPECT_EQ(out, "1\n[1]\n");
}

TEST(Sandbox, HostUnixSocketsAreUnreachable) {
  // A listening socket of the host by path (in the host's /tmp) and an abstract one.
  const std::string path = (fs::temp_directory_path() / "r1-sandbox-test.sock").string();
  fs::remove(path);
  int by_path = socket(AF_UNIX, SOCK_STREAM, 0), abstract = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(bind(by_path, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(by_path, 4), 0);
  sockaddr_un b{};
  b.sun_family = AF_UNIX;
  const char name[] = "\0r1-sandbox-abstract";
  std::memcpy(b.sun_path, name, sizeof(name) - 1);
  ASSERT_EQ(bind(abstract, reinterpret_cast<sockaddr*>(&b),
                 offsetof(sockaddr_un, sun_path) + sizeof(name) - 1),
            0);
  ASSERT_EQ(listen(abstract, 4), 0);
  const std::string out = output_of(
      "import socket\n"
      "for addr in ['" +
      path +
      "', '\\0r1-sandbox-abstract']:\n"
      "    s = socket.socket(socket.AF_UNIX)\n"
      "    try:\n"
      "        s.connect(addr)\n"
      "        print('connected')\n"
      "    except OSError:\n"
      "        print('refused')\n");
  close(by_path);
  close(abstract);
  fs::remove(path);
  EXPECT_EQ(out, "refused\nrefused\n");
}

TEST(Sandbox, ProcessLimit) {
  SandboxLimits l;
  l.max_processes = 8;
  auto r = run_python(
      "import os, time\nmade = 0\nfor i in range(64):\n"
      "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
      "    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    made += 1\n"
      "print(made)",
      l);
  ASSERT_FALSE(r.out.empty()) << r.err;
  EXPECT_LT(std::stoi(r.out), 64);
}

TEST(Sandbox, OutputCap) {
  SandboxLimits l;
  l.output_bytes = 1 << 16;
  auto r = run_python("while True: print('x' * 1000)", l);
  EXPECT_TRUE(r.output_limit);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(r.out.size(), (1u << 16) + 70000u);
}

TEST(Sandbox, NoNetwork) {
  const std::string out = output_of(
      "import socket\ns = socket.socket()\ns.settimeout(2)\n"
      "try:\n    s.connect(('1.1.1.1', 53))\n    print('connected')\n"
      "except OSError as e:\n    print('blocked')\n"
      "names = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\n"
      "print(names)");
  EXPECT_NE(out.find("blocked"), std::string::npos) << out;
  // the only interface of the program's network namespace is its own loopback
  EXPECT_NE(out.find("['lo']"), std::string::npos) << out;
}

TEST(Sandbox, UnprivilegedUser) {
  const std::string out = output_of(
      "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
      "try:\n    os.setuid(0)\n    print('became root')\nexcept OSError:\n    print('stayed')\n");
  if (geteuid() == 0)
    EXPECT_EQ(out, "65534 65534 []\nstayed\n");
  else
    EXPECT_EQ(out, std::to_string(getuid()) + " " + std::to_string(getgid()) + " []\nstayed\n");
}

// The same isolation for a user who is not root (a user namespace): run from a child process of
// the test that drops to nobody first.
TEST(Sandbox, AsAnOrdinaryUser) {
  if (geteuid() != 0) {
    // Already an ordinary user: every other test here covers this path.
    EXPECT_TRUE(run_python("print(1)").ok());
    return;
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
      _exit(3);
    auto r = run_python(
        "import os\nprint(os.getuid(), sorted(os.listdir('/')), os.path.exists('/root'))\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n");
    const std::string msg = (r.started ? r.out : "not started: " + r.error) + r.err;
    ssize_t n = write(fds[1], msg.data(), msg.size());
    _exit(n == static_cast<ssize_t>(msg.size()) ? 0 : 4);
  }
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << got;
  EXPECT_NE(got.find("65534 ['bin', 'dev', 'etc'"), std::string::npos) << got;
  EXPECT_NE(got.find("False\n[1]\n"), std::string::npos) << got;
}

// A SIGKILL of r1 ends the run: the sandboxed program dies with it (PR_SET_PDEATHSIG at each level
// of the tree), and its private /tmp and /work go with its namespace.
TEST(Sandbox, DiesWithR1) {
  const std::string marker = "r1-sandbox-orphan-" + std::to_string(getpid());
  auto alive = [&] {
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::ifstream cmd(e.path() / "cmdline");
      std::string s((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
      if (s.find(marker) != std::string::npos && s.find("time.sleep") != std::string::npos)
        return true;
    }
    return false;
  };
  pid_t pid = fork();
  if (pid == 0) {  // plays r1: starts a long run, then is killed
    SandboxLimits l;
    l.wall_seconds = 60;
    run_sandboxed({kPython, "-c", "import time; time.sleep(50)", marker}, "", {}, l);
    _exit(0);
  }
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    started = alive();
  }
  ASSERT_TRUE(started) << "the sandboxed program never appeared";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gone = !alive();
  }
  EXPECT_TRUE(gone) << "the sandboxed program outlived r1";
}

TEST(Sandbox, MissingProgramIsReported) {
  auto r = run_sandboxed({"/nonexistent/program"}, "", {}, {});
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.error.find("cannot execute /nonexistent/program"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace r1::eval
