// r1 serve: the OpenAI-compatible server (src/server). SIGINT or SIGTERM stops it cleanly: new
// requests are refused (503), running ones get --shutdown-grace seconds to finish, the rest end
// with an error; a second signal exits at once.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/memory.h"
#include "server/http_server.h"
#include "tokenizer/template/chat_template.h"

namespace r1::cli {
namespace {

std::string model_name_of(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.rfind('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

int run_serve(Args& args) {
  server::ServerOptions opt;
  opt.host = args.take_str("--host", "127.0.0.1");
  opt.port = static_cast<int>(args.take_int("--port", 8000, 0, 65535));
  opt.api_key = args.take_str("--api-key", "");
  opt.model_name = args.take_str("--served-model-name", "");
  opt.engine.max_running = args.take_int("--max-concurrency", 16, 1, kMaxBatch);
  opt.engine.max_waiting = args.take_int("--max-queue", 64, 0, 1 << 20);
  opt.engine.step_tokens = args.take_int("--step-tokens", 256, 1, kMaxTokens);
  opt.engine.kv_budget_bytes = static_cast<int64_t>(args.take_bytes("--kv-memory", 0));
  opt.shutdown_grace_seconds = args.take_double("--shutdown-grace", 30, Range::closed(0, 3600));
  opt.engine.kv_dtype = take_kv_dtype(args, DType::BF16);
  opt.defaults = take_sampling(args);
  LoadedModel lm = load_model_from_flags(args);
  args.finish();
  if (!lm.tokenizer) fail_input(lm.dir, ": no tokenizer.json; r1 serve needs one");
  if (opt.model_name.empty()) opt.model_name = model_name_of(lm.dir);
  if (opt.engine.kv_budget_bytes > 0)
    check_memory(static_cast<uint64_t>(opt.engine.kv_budget_bytes), "--kv-memory");
  std::optional<tmpl::ChatTemplate> chat_template;
  if (file_exists(path_join(lm.dir, "tokenizer_config.json"))) {
    try {
      chat_template = tmpl::ChatTemplate::load(lm.dir);
    } catch (const Error& e) {
      std::fprintf(stderr, "r1 serve: no chat completions (%s)\n", e.what());
    }
  }

  // Signals go to one thread that waits for them; every other thread (started below) inherits
  // the blocked mask.
  static sigset_t set;  // static: the thread waiting for a second signal may outlive this call
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a dead server

  server::Server srv(
      {lm.model.get(), &*lm.tokenizer, chat_template ? &*chat_template : nullptr, lm.eos_ids}, opt);
  srv.bind();
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    signalled.store(true);
    std::fprintf(stderr, "r1 serve: %s, finishing requests (again to quit at once)\n",
                 sig == SIGINT ? "interrupted" : "terminated");
    std::thread([] {
      int again = 0;
      sigwait(&set, &again);
      std::fprintf(stderr, "r1 serve: quitting now\n");
      std::_Exit(130);
    }).detach();
    srv.shutdown();
  });
  std::fprintf(stderr, "r1 serve: %s on http://%s:%d (OpenAI API under /v1)\n",
               opt.model_name.c_str(), opt.host.c_str(), srv.port());
  std::fflush(stderr);
  srv.serve();
  // serve() returns after shutdown() stopped it, or if listening failed.
  if (!signalled.load()) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

R1_COMMAND({"serve",
            "OpenAI-compatible HTTP server (chat completions with reasoning_content)",
            "usage: r1 serve [-m DIR] [flags]\n"
            "  --host ADDR            address to listen on (default 127.0.0.1)\n"
            "  --port N               port (default 8000; 0: any free port)\n"
            "  --api-key KEY          require 'Authorization: Bearer KEY' on /v1/*\n"
            "  --served-model-name S  the model id clients send (default: the folder's name)\n"
            "  --max-concurrency N    sequences decoded at once (default 16)\n"
            "  --max-queue N          requests waiting beyond those; more get 429 (default 64)\n"
            "  --step-tokens N        tokens per forward pass: decode tokens, then prompt\n"
            "                         chunks (default 256)\n"
            "  --kv-memory SIZE       KV cache budget, e.g. 2G (default: the machine's memory)\n"
            "  --kv-dtype bf16|f32    the KV cache's rows (default bf16: half the memory; f32 is\n"
            "                         exact)\n"
            "  --shutdown-grace S     seconds running requests get on SIGINT/SIGTERM (default 30)\n"
            "Sampling flags set the defaults a request's own fields override.\n",
            {"--mmap", "--no-mmap", "--fast-bf16", "--exact"},
            run_serve,
            kModelFlags | kSamplingFlags});

}  // namespace
}  // namespace r1::cli
