// The sandbox's limits, each shown to bite on a program that tries to exceed it.
#include "eval/sandbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

namespace r1::eval {
namespace {

const std::string kPython = "/usr/bin/python3";

SandboxResult run_python(const std::string& code, const SandboxLimits& limits = {},
                         const std::string& input = "") {
  TempDir dir;
  dir.write("main.py", code);
  return run_sandboxed({kPython, "-I", "main.py"}, input, dir.path(), limits);
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
  // itself exits at once. With a PID namespace the grandchild dies with the program, so the run
  // ends long before the wall-clock limit.
  SandboxLimits l;
  l.wall_seconds = 8;
  auto r = run_python(
      "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n"
      "    os._exit(0)\nprint('parent done')",
      l);
  EXPECT_EQ(r.out, "parent done\n");
  EXPECT_EQ(r.exit_code, 0);
  if (!r.pid_namespace) GTEST_SKIP() << "PID namespaces are not permitted here";
  EXPECT_LT(r.wall_seconds, 4) << "a process escaped the run (no PID namespace here?)";
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
  auto r = run_python(
      "import socket\ns = socket.socket()\ns.settimeout(2)\n"
      "try:\n    s.connect(('1.1.1.1', 53))\n    print('connected')\n"
      "except OSError as e:\n    print('blocked')\n"
      "names = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\n"
      "print(names)");
  if (!r.network_isolated) GTEST_SKIP() << "network namespaces are not permitted here";
  EXPECT_NE(r.out.find("blocked"), std::string::npos) << r.out << r.err;
  // the only interface of the program's network namespace is its own loopback
  EXPECT_NE(r.out.find("['lo']"), std::string::npos) << r.out;
  SandboxLimits l;
  l.require_network_isolation = true;
  EXPECT_TRUE(run_python("print(1)", l).ok());
}

TEST(Sandbox, ThrowawayDirectoryAndUnprivilegedUser) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    dir.write("main.py",
              "import os\nprint(os.getcwd())\nopen('scratch.txt', 'w').write('x')\n"
              "print(os.getuid())\nprint(os.environ.get('HOME'))\n"
              "try:\n    open('/root/.bashrc').read()\n    print('read root')\n"
              "except OSError:\n    print('denied')\n");
    auto r = run_sandboxed({kPython, "-I", "main.py"}, "", dir.path(), {});
    EXPECT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), path);
    EXPECT_TRUE(std::filesystem::exists(path + "/scratch.txt"));
    EXPECT_NE(r.out.find("\n" + path + "\n"), std::string::npos);  // HOME
    if (geteuid() == 0) {
      EXPECT_NE(r.out.find("\n65534\n"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("denied"), std::string::npos) << r.out;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Sandbox, MissingProgramIsReported) {
  TempDir dir;
  auto r = run_sandboxed({"/nonexistent/program"}, "", dir.path(), {});
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.error.find("cannot execute /nonexistent/program"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace r1::eval
