// `r1 serve`'s HTTP front end on cpp-httplib (Debian's libcpp-httplib-dev): the OpenAI routes,
// /tokenize, /detokenize, /health, /metrics, and the engine behind them. Handlers run on the
// library's thread pool (sized to the queue, so that a connection beyond it gets its 429 at once);
// the engine thread does all model work.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "models/model.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace r1::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;      // 0: any free port (see Server::port())
  std::string api_key;  // empty: no authentication
  std::string model_name;
  runtime::SamplingParams defaults;  // what a request that sets nothing gets
  runtime::EngineOptions engine;
  double shutdown_grace_seconds = 30;  // in-flight requests get this long to finish
};

struct ModelHandle {
  models::Model* model;
  const tok::Tokenizer* tokenizer;
  const tmpl::ChatTemplate* chat_template;  // may be null: no /v1/chat/completions
  std::vector<int32_t> eos;
};

class Server {
 public:
  Server(ModelHandle m, ServerOptions opt);
  ~Server();
  // Binds the socket (port() is known after this). Throws an Input error if it cannot.
  void bind();
  // Serves until shutdown() (blocks).
  void serve();
  // Stops taking requests (new ones get 503), lets in-flight ones finish for the grace period,
  // ends the rest with an error, then stops serve(). Safe from any thread.
  void shutdown();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1::server
