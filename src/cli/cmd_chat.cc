// r1 chat: an interactive conversation. Replies stream as they are generated, the reasoning
// (dimmed, or hidden with --hide-reasoning or /hide) apart from the answer. Ctrl-C stops the
// reply being generated, not the program. A line ending in '\' continues on the next line; a
// line of """ starts and ends a block of several lines. When stdin is not a terminal, each line
// is one user turn (for scripts and tests).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/chat_session.h"
#include "cli/command.h"
#include "core/error.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_cancel{false};
std::atomic<bool> g_generating{false};

void on_sigint(int) {
  if (g_generating.load()) {
    g_cancel.store(true);
  } else {
    const char msg[] = "\n(Ctrl-D or /exit quits)\n> ";
    ssize_t n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
    (void)n;
  }
}

const char* kHelp =
    "commands:\n"
    "  /reset   forget the conversation\n"
    "  /hide    hide or show the reasoning\n"
    "  /help    this text\n"
    "  /exit    quit (or Ctrl-D)\n"
    "Ctrl-C stops a reply. End a line with \\ to continue it, or wrap lines in \"\"\".\n";

// Reads one user turn; returns false at end of input.
bool read_turn(bool tty, std::string* out) {
  out->clear();
  std::string line;
  if (tty) std::printf("> "), std::fflush(stdout);
  if (!std::getline(std::cin, line)) return false;
  if (line == "\"\"\"") {
    while (std::getline(std::cin, line) && line != "\"\"\"") *out += line + "\n";
    if (!out->empty()) out->pop_back();
    return true;
  }
  while (!line.empty() && line.back() == '\\') {
    line.pop_back();
    *out += line + "\n";
    if (tty) std::printf(". "), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
  }
  *out += line;
  return true;
}

int run_chat(Args& args) {
  int64_t max_tokens = args.take_int("--max-tokens", 4096, 1, kMaxTokens, "-n");
  bool hide = args.take_bool("--hide-reasoning");
  std::string system = args.take_str("--system", "");
  tmpl::ChatOptions opt;
  opt.keep_system = args.take_bool("--keep-system");
  runtime::SamplingParams sp = take_sampling(args);
  LoadedModel lm = load_model_from_flags(args);
  args.finish();
  if (max_tokens < 1) fail_usage("-n must be >= 1");
  ChatSession chat(lm, opt);
  chat.set_system(system);
  const bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  const char* dim = tty ? "\033[2m" : "";
  const char* plain = tty ? "\033[0m" : "";

  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);

  if (tty) std::printf("r1 chat with %s. /help for commands.\n", lm.dir.c_str());
  runtime::GenRequest settings;
  settings.sampling = sp;
  settings.max_tokens = max_tokens;
  std::string turn;
  for (int64_t n = 0; read_turn(tty, &turn); ++n) {
    if (turn == "/exit" || turn == "/quit") break;
    if (turn == "/help") {
      std::printf("%s", kHelp);
      continue;
    }
    if (turn == "/reset") {
      chat.reset();
      std::printf("(conversation cleared)\n");
      continue;
    }
    if (turn == "/hide") {
      hide = !hide;
      std::printf("(reasoning %s)\n", hide ? "hidden" : "shown");
      continue;
    }
    if (!turn.empty() && turn[0] == '/') {
      std::printf("unknown command %s; /help lists them\n", turn.c_str());
      continue;
    }
    if (turn.find_first_not_of(" \t\n") == std::string::npos) continue;
    settings.sampling.seed = sp.seed + static_cast<uint64_t>(n);
    bool in_reasoning = false;
    auto on_reasoning = [&](const std::string& s) {
      if (hide) return;
      if (!in_reasoning) std::printf("%s", dim), in_reasoning = true;
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    auto on_content = [&](const std::string& s) {
      if (in_reasoning) std::printf("%s\n", plain), in_reasoning = false;
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    g_cancel.store(false);
    g_generating.store(true);
    ChatReply r;
    try {
      r = chat.send(turn, settings, on_reasoning, on_content, &g_cancel);
    } catch (const Error& e) {
      g_generating.store(false);
      if (e.kind() == ErrorKind::Internal) throw;
      std::printf("%s\nerror: %s\n", plain, e.what());  // e.g. the context is full: keep going
      continue;
    }
    g_generating.store(false);
    if (in_reasoning) std::printf("%s", plain);
    if (r.finish_reason == "cancelled") std::printf("\n(stopped; this turn is not kept)");
    if (r.finish_reason == "length")
      std::printf("\n(reply cut at %lld tokens)", static_cast<long long>(max_tokens));
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}

R1_COMMAND({"chat",
            "interactive chat; reasoning shown apart from the answer",
            "usage: r1 chat [-m DIR] [flags]\n"
            "  -n, --max-tokens N   tokens per reply at most (default 4096)\n"
            "  --system TEXT        a system prompt (folded into the first user turn, as R1\n"
            "                       recommends, unless --keep-system)\n"
            "  --keep-system        render the chat template exactly as given\n"
            "  --hide-reasoning     do not show the reasoning (toggle with /hide)\n",
            {"--hide-reasoning", "--keep-system", "--mmap", "--no-mmap", "--fast-bf16", "--exact"},
            run_chat,
            kModelFlags | kSamplingFlags});

}  // namespace
}  // namespace r1::cli
