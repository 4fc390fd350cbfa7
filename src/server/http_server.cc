#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.h"
#include "server/api_error.h"
#include "server/api_request.h"
#include "server/generation.h"
#include "server/metrics.h"
#include "server/web_assets.h"

namespace r1::server {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump_json(j) + "\n", "application/json");
}

// httplib::Server listens with a backlog of 5 (compiled into Debian's library), so a burst of
// connections beyond that has SYNs dropped and clients wait a second to retry. Listening again on
// the bound socket raises the backlog (Linux updates it in place).
class HttpServer : public httplib::Server {
 public:
  void widen_backlog(int n) { ::listen(svr_sock_, n); }
};

// Counts a generation request as in flight for as long as it lives.
struct InFlight {
  explicit InFlight(std::atomic<int>& c) : c_(c) { ++c_; }
  ~InFlight() { --c_; }
  std::atomic<int>& c_;
};

}  // namespace

struct Server::Impl {
  Impl(ModelHandle m_, ServerOptions o)
      : m(std::move(m_)),
        opt(std::move(o)),
        engine(*m.model, m.tokenizer, m.eos, opt.engine),
        created(static_cast<int64_t>(std::time(nullptr))) {}

  ModelHandle m;
  ServerOptions opt;
  runtime::Engine engine;
  Metrics metrics;
  HttpServer http;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  int64_t created;
  int port = -1;

  void routes();
  void guarded(const char* endpoint, const httplib::Request& req, httplib::Response& res,
               const std::function<void()>& f);
  void check_model(const std::string& name) const;
  int64_t fit(int64_t prompt, const SamplingRequest& s) const;
  void respond(std::shared_ptr<Generation> g, bool stream, httplib::Response& res);
  void chat(const httplib::Request& req, httplib::Response& res);
  void completions(const httplib::Request& req, httplib::Response& res);
  void tokenize(const httplib::Request& req, httplib::Response& res);
  void detokenize(const httplib::Request& req, httplib::Response& res);
  runtime::GenRequest gen_of(const SamplingRequest& s, std::vector<int32_t> ids) const;
};

void Server::Impl::guarded(const char* endpoint, const httplib::Request&, httplib::Response& res,
                           const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    send_json(res, e.status(), e.body());
    if (e.status() == 429) res.set_header("Retry-After", "1");
  } catch (const Error& e) {
    const bool input = e.kind() != ErrorKind::Internal;
    send_json(
        res, input ? 400 : 500,
        ApiError(input ? 400 : 500, e.what(), input ? "invalid_request_error" : "server_error")
            .body());
  } catch (const std::exception& e) {
    send_json(res, 500, ApiError(500, e.what(), "server_error").body());
  }
  metrics.request_done(endpoint, res.status);
}

void Server::Impl::check_model(const std::string& name) const {
  if (name != opt.model_name)
    throw ApiError(
        404, "the model '" + name + "' does not exist; this server serves '" + opt.model_name + "'",
        "invalid_request_error", "model", "model_not_found");
}

int64_t Server::Impl::fit(int64_t prompt, const SamplingRequest& s) const {
  const int64_t ctx = engine.context();
  if (prompt >= ctx)
    bad_param("messages",
              "this model's context is " + std::to_string(ctx) +
                  " tokens, and the prompt alone is " + std::to_string(prompt) + " tokens",
              "context_length_exceeded");
  if (!s.max_tokens_given) return ctx - prompt;
  if (s.gen.max_tokens > ctx - prompt)
    bad_param("max_tokens",
              "this model's context is " + std::to_string(ctx) + " tokens; the prompt takes " +
                  std::to_string(prompt) + " and max_tokens asks for " +
                  std::to_string(s.gen.max_tokens) + " more",
              "context_length_exceeded");
  return s.gen.max_tokens;
}

runtime::GenRequest Server::Impl::gen_of(const SamplingRequest& s, std::vector<int32_t> ids) const {
  runtime::GenRequest g = s.gen;
  g.max_tokens = fit(static_cast<int64_t>(ids.size()), s);
  g.prompt = std::move(ids);
  if (!s.seeded) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    g.sampling.seed = rng();
  }
  return g;
}

void Server::Impl::respond(std::shared_ptr<Generation> g, bool stream, httplib::Response& res) {
  auto flight = std::make_shared<InFlight>(in_flight);
  res.status = 200;
  if (stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [g, flight](size_t, httplib::DataSink& sink) {
          const bool more = g->wait(1000ms);
          std::string ev = g->take_events();
          // Silence for a second: an SSE comment, which clients ignore and which tells a
          // client that went away (the write fails) from one still reading.
          if (ev.empty() && more) ev = ": keep-alive\n\n";
          if (!ev.empty() && !sink.write(ev.data(), ev.size())) {
            g->cancel();
            return false;
          }
          if (!more) sink.done();
          return true;
        },
        [g](bool) { g->cancel(); });
    return;
  }
  // Not streaming: the body is written when generation ends; until then a space every second
  // (JSON allows leading whitespace) finds out whether the client is still there.
  res.set_chunked_content_provider(
      "application/json",
      [g, flight](size_t, httplib::DataSink& sink) {
        if (g->wait(1000ms)) {
          if (!sink.write(" ", 1)) {
            g->cancel();
            return false;
          }
          return true;
        }
        const std::string body = dump_json(g->failed() ? g->error_body() : g->response()) + "\n";
        if (!sink.write(body.data(), body.size())) return false;
        sink.done();
        return true;
      },
      [g](bool) { g->cancel(); });
}

void Server::Impl::chat(const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  ChatRequest cr = parse_chat_request(body, opt.defaults);
  check_model(cr.s.model);
  if (!m.chat_template || !m.tokenizer)
    throw ApiError(400, "this model has no chat template; use /v1/completions");
  tmpl::ChatOptions co;
  co.template_vars = cr.template_vars;
  std::string prompt = m.chat_template->render(cr.messages, co);
  // Thinking skipped the R1 way: the assistant turn starts with an empty think block.
  if (!cr.thinking && prompt.ends_with("<think>\n")) prompt += "\n</think>\n\n";
  GenerationSetup setup;
  setup.endpoint = Endpoint::Chat;
  setup.model = opt.model_name;
  setup.stream = cr.s.stream;
  setup.include_usage = cr.s.include_usage;
  setup.thinking = cr.thinking;
  setup.top_logprobs = cr.s.top_logprobs;
  auto g = std::make_shared<Generation>(engine, *m.tokenizer, metrics, setup);
  g->submit(gen_of(cr.s, m.tokenizer->encode(prompt, false)));
  respond(g, cr.s.stream, res);
}

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  CompletionRequest cr = parse_completion_request(body, opt.defaults);
  check_model(cr.s.model);
  if (!m.tokenizer && !cr.texts.empty())
    throw ApiError(400, "this model has no tokenizer; send token ids", "invalid_request_error",
                   "prompt");
  GenerationSetup setup;
  setup.endpoint = Endpoint::Completion;
  setup.model = opt.model_name;
  setup.stream = cr.s.stream;
  setup.include_usage = cr.s.include_usage;
  setup.thinking = false;
  setup.top_logprobs = cr.s.top_logprobs;
  auto g = std::make_shared<Generation>(engine, *m.tokenizer, metrics, setup);
  // Every prompt is checked before any is submitted.
  std::vector<runtime::GenRequest> reqs;
  std::vector<std::string> echoes;
  for (const std::string& t : cr.texts) {
    reqs.push_back(gen_of(cr.s, m.tokenizer->encode(t, true)));
    echoes.push_back(cr.echo ? t : "");
  }
  for (const auto& ids : cr.ids) {
    for (int32_t id : ids)
      if (id >= m.model->config().vocab)
        bad_param("prompt", "token id " + std::to_string(id) + " is not in the vocabulary",
                  "invalid_value");
    reqs.push_back(gen_of(cr.s, ids));
    echoes.push_back(cr.echo && m.tokenizer ? m.tokenizer->decode(ids) : "");
  }
  for (size_t i = 0; i < reqs.size(); ++i) g->submit(std::move(reqs[i]), echoes[i]);
  respond(g, cr.s.stream, res);
}

void Server::Impl::tokenize(const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  if (!m.tokenizer) throw ApiError(400, "this model has no tokenizer");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "model" && it.key() != "prompt" && it.key() != "messages" &&
        it.key() != "add_special_tokens" && it.key() != "add_generation_prompt")
      bad_param(it.key(), "unrecognized request argument supplied: " + it.key(),
                "unrecognized_argument");
  auto flag = [&](const char* name, bool dflt) {
    if (!body.contains(name)) return dflt;
    if (!body[name].is_boolean()) bad_param(name, std::string("'") + name + "' must be a boolean");
    return body[name].get<bool>();
  };
  std::vector<int32_t> ids;
  if (body.contains("messages")) {
    if (!m.chat_template) throw ApiError(400, "this model has no chat template");
    json fake = {{"model", opt.model_name}, {"messages", body["messages"]}};
    ChatRequest cr = parse_chat_request(fake, opt.defaults);
    tmpl::ChatOptions co;
    co.add_generation_prompt = flag("add_generation_prompt", true);
    ids = m.tokenizer->encode(m.chat_template->render(cr.messages, co),
                              flag("add_special_tokens", false));
  } else if (body.contains("prompt") && body["prompt"].is_string()) {
    ids = m.tokenizer->encode(body["prompt"].get<std::string>(), flag("add_special_tokens", true));
  } else {
    bad_param("prompt", "give 'prompt' (a string) or 'messages'", "missing_required_parameter");
  }
  send_json(res, 200,
            {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", engine.context()}});
}

void Server::Impl::detokenize(const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  if (!m.tokenizer) throw ApiError(400, "this model has no tokenizer");
  if (!body.contains("tokens") || !body["tokens"].is_array())
    bad_param("tokens", "'tokens' must be a list of token ids", "invalid_type");
  std::vector<int32_t> ids;
  for (const json& x : body["tokens"]) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
        x.get<int64_t>() >= m.model->config().vocab)
      bad_param("tokens",
                "'tokens' must hold token ids below " + std::to_string(m.model->config().vocab),
                "invalid_value");
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
  }
  send_json(res, 200, {{"prompt", m.tokenizer->decode(ids)}});
}

void Server::Impl::routes() {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool open = req.path == "/health" || req.path == "/metrics";
    if (draining.load() && !open) {
      send_json(
          res, 503,
          ApiError(503, "the server is shutting down", "server_error", "", "shutting_down").body());
      metrics.request_done("other", 503);
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool api =
        req.path.rfind("/v1/", 0) == 0 || req.path == "/tokenize" || req.path == "/detokenize";
    if (api && !opt.api_key.empty() &&
        req.get_header_value("Authorization") != "Bearer " + opt.api_key) {
      send_json(res, 401,
                ApiError(401, "a valid API key is required (Authorization: Bearer KEY)",
                         "invalid_request_error", "", "invalid_api_key")
                    .body());
      metrics.request_done("other", 401);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded("chat_completions", req, res, [&] { chat(req, res); });
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded("completions", req, res, [&] { completions(req, res); });
  });
  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded("tokenize", req, res, [&] { tokenize(req, res); });
  });
  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded("detokenize", req, res, [&] { detokenize(req, res); });
  });
  auto model_obj = [this] {
    return json{{"id", opt.model_name},
                {"object", "model"},
                {"created", created},
                {"owned_by", "r1"},
                {"max_model_len", engine.context()}};
  };
  http.Get("/v1/models", [this, model_obj](const httplib::Request& req, httplib::Response& res) {
    guarded("models", req, res, [&] {
      send_json(res, 200, {{"object", "list"}, {"data", json::array({model_obj()})}});
    });
  });
  http.Get("/v1/models/(.+)",
           [this, model_obj](const httplib::Request& req, httplib::Response& res) {
             guarded("models", req, res, [&] {
               check_model(req.matches[1].str());
               send_json(res, 200, model_obj());
             });
           });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, draining.load() ? 503 : 200,
              {{"status", draining.load() ? "shutting down" : "ok"}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const runtime::EngineStats s = engine.stats();
    EngineGauges g;
    g.waiting = s.waiting;
    g.running = s.running;
    g.kv_blocks_used = s.kv_blocks_used;
    g.kv_blocks_cached = s.kv_blocks_cached;
    g.kv_blocks_budget = s.kv_blocks_budget;
    g.kv_block_size = s.kv_block_size;
    g.prompt_tokens = s.prompt_tokens;
    g.generated_tokens = s.generated_tokens;
    g.cached_prompt_tokens = s.cached_prompt_tokens;
    g.steps = s.steps;
    g.preemptions = s.preemptions;
    res.set_content(metrics.render(g), "text/plain; version=0.0.4; charset=utf-8");
  });
  // The web chat: its page and the files it loads, all from the binary.
  auto asset = [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = find_web_asset(req.path);
    if (!a) {
      res.status = 404;
      return;
    }
    res.set_content(a->data, a->size, web_content_type(req.path));
    res.set_header("Cache-Control", req.path == "/" ? "no-cache" : "max-age=3600");
    if (req.path == "/")
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
  };
  http.Get("/", asset);
  http.Get("/assets/.+", asset);
  // Anything else: OpenAI's error shape (404 for unknown paths, 405 handled the same).
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const std::string msg = res.status == 404 ? "no route " + req.method + " " + req.path
                                                  : "HTTP " + std::to_string(res.status);
        res.set_content(dump_json(ApiError(res.status, msg, "invalid_request_error").body()) + "\n",
                        "application/json");
        metrics.request_done("other", res.status);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_json(res, 500, ApiError(500, what, "server_error").body());
      });
}

Server::Server(ModelHandle m, ServerOptions opt)
    : impl_(std::make_unique<Impl>(std::move(m), std::move(opt))) {
  const size_t threads =
      static_cast<size_t>(impl_->opt.engine.max_running + impl_->opt.engine.max_waiting + 16);
  impl_->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->http.set_payload_max_length(64u << 20);
  impl_->http.set_read_timeout(30, 0);
  impl_->http.set_write_timeout(30, 0);
  impl_->routes();
}

Server::~Server() {
  impl_->engine.stop();
  impl_->http.stop();
}

void Server::bind() {
  if (impl_->opt.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(impl_->opt.host);
    if (impl_->port < 0) fail_input("cannot listen on ", impl_->opt.host);
  } else {
    if (!impl_->http.bind_to_port(impl_->opt.host, impl_->opt.port))
      fail_input("cannot listen on ", impl_->opt.host, ":", impl_->opt.port,
                 " (in use, or not an address of this machine?)");
    impl_->port = impl_->opt.port;
  }
  impl_->http.widen_backlog(1024);
}

void Server::serve() {
  impl_->http.listen_after_bind();
}

int Server::port() const {
  return impl_->port;
}

void Server::shutdown() {
  Impl& s = *impl_;
  if (s.draining.exchange(true)) return;
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(s.opt.shutdown_grace_seconds);
  while (s.in_flight.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  // Whatever is still running ends with an error event / error body.
  s.engine.stop();
  const auto flush_until = std::chrono::steady_clock::now() + 5s;
  while (s.in_flight.load() > 0 && std::chrono::steady_clock::now() < flush_until)
    std::this_thread::sleep_for(20ms);
  s.http.stop();
}

}  // namespace r1::server
