// r1 serve's HTTP API, through real HTTP on a local port: the OpenAI objects (chat.completion,
// chunks with reasoning_content first, text_completion, logprobs, usage), greedy answers equal to
// the Generator's, the errors OpenAI gives (status and body), authentication, cancellation by a
// client that hangs up, and shutdown.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/common.h"
#include "runtime/generator.h"
#include "server/http_server.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/template/reasoning.h"

namespace r1::server {
namespace {

using nlohmann::json;

const std::string kModel = std::string(R1_SOURCE_DIR) + "/models/r1-arith";

struct Loaded {
  std::unique_ptr<models::Model> model = models::load_model(kModel);
  tok::Tokenizer tok = tok::Tokenizer::load(kModel);
  tmpl::ChatTemplate tmpl = tmpl::ChatTemplate::load(kModel);
  std::vector<int32_t> eos{505};
};

Loaded& loaded() {
  static Loaded* l = new Loaded;
  return *l;
}

class Serve {
 public:
  explicit Serve(ServerOptions opt = {}) {
    opt.port = 0;
    if (opt.model_name.empty()) opt.model_name = "r1-arith";
    Loaded& l = loaded();
    srv_ = std::make_unique<Server>(ModelHandle{l.model.get(), &l.tok, &l.tmpl, l.eos}, opt);
    srv_->bind();
    thread_ = std::thread([this] { srv_->serve(); });
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", srv_->port());
    cli_->set_read_timeout(60, 0);
    for (int i = 0; i < 200 && !cli_->Get("/health"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~Serve() {
    srv_->shutdown();
    thread_.join();
  }
  httplib::Client& cli() { return *cli_; }
  Server& server() { return *srv_; }
  httplib::Result post(const std::string& path, const json& body, httplib::Headers h = {}) {
    return cli_->Post(path.c_str(), h, body.dump(), "application/json");
  }

 private:
  std::unique_ptr<Server> srv_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> cli_;
};

json chat_body(const std::string& question, json extra = json::object()) {
  json b = {{"model", "r1-arith"},
            {"messages", json::array({{{"role", "user"}, {"content", question}}})},
            {"temperature", 0},
            {"max_tokens", 300}};
  b.update(extra);
  return b;
}

// What the Generator gives for the same chat prompt (greedy).
runtime::GenOutput reference(const std::string& question, int64_t max_tokens,
                             const std::string& suffix = "") {
  Loaded& l = loaded();
  json msgs = json::array({{{"role", "user"}, {"content", question}}});
  runtime::GenRequest r;
  r.prompt = l.tok.encode(l.tmpl.render(msgs, {}) + suffix, false);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  runtime::Generator g(*l.model, &l.tok, l.eos);
  return g.run({r})[0];
}

// The "data: " payloads of an SSE body.
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const size_t end = body.find("\n\n", at);
    out.push_back(body.substr(at + 6, end - at - 6));
    at = end;
  }
  return out;
}

TEST(Serve, ChatCompletionSplitsReasoningAndMatchesGenerate) {
  Serve s;
  const std::string q = "What is 48 + 27?";
  auto res = s.post("/v1/chat/completions", chat_body(q));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "r1-arith");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const json& msg = j["choices"][0]["message"];
  EXPECT_EQ(msg["role"], "assistant");
  const runtime::GenOutput want = reference(q, 300);
  const tmpl::ReasoningSplit split = tmpl::split_reasoning(want.text);
  EXPECT_EQ(msg["reasoning_content"], split.reasoning);
  EXPECT_EQ(msg["content"], split.content);
  EXPECT_FALSE(split.reasoning.empty());
  EXPECT_NE(split.content.find("\\boxed{75}"), std::string::npos) << split.content;
  EXPECT_EQ(j["choices"][0]["finish_reason"], want.finish_reason);
  const json& u = j["usage"];
  EXPECT_EQ(u["completion_tokens"], want.tokens.size());
  EXPECT_EQ(u["prompt_tokens"], want.prompt_tokens);
  EXPECT_EQ(u["total_tokens"], want.prompt_tokens + static_cast<int64_t>(want.tokens.size()));
  const int64_t reasoning = u["completion_tokens_details"]["reasoning_tokens"];
  EXPECT_GT(reasoning, 0);
  EXPECT_LT(reasoning, u["completion_tokens"].get<int64_t>());
}

// The same long prompt again: its whole cached blocks are reused (usage reports them), and the
// answer is the same.
TEST(Serve, RepeatedPromptUsesThePrefixCache) {
  Serve s;
  const std::string q =
      "Tom has 48 apples and buys 27 more at the market. How many apples does he have now?";
  auto first = s.post("/v1/chat/completions", chat_body(q));
  auto second = s.post("/v1/chat/completions", chat_body(q));
  ASSERT_EQ(second->status, 200) << second->body;
  const json a = json::parse(first->body), b = json::parse(second->body);
  const int64_t p = a["usage"]["prompt_tokens"];
  ASSERT_GT(p, 32);
  EXPECT_EQ(a["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(b["usage"]["prompt_tokens_details"]["cached_tokens"], (p - 1) / 16 * 16);
  EXPECT_EQ(a["choices"][0]["message"], b["choices"][0]["message"]);
  auto m = s.cli().Get("/metrics");
  EXPECT_NE(m->body.find("r1_prefix_cache_hit_tokens_total " + std::to_string((p - 1) / 16 * 16)),
            std::string::npos)
      << m->body;
}

TEST(Serve, StreamingSendsReasoningThenContentThenDone) {
  Serve s;
  const std::string q = "What is 48 + 27?";
  auto res =
      s.post("/v1/chat/completions",
             chat_body(q, {{"stream", true}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  const auto events = sse_data(res->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string reasoning, content, finish;
  bool content_started = false, role_first = false;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    ASSERT_TRUE(c.contains("usage"));  // null on every chunk but the last, as OpenAI does
    if (c["choices"].empty()) {
      usage = c["usage"];
      EXPECT_EQ(i + 2, events.size()) << "the usage chunk comes last";
      continue;
    }
    const json& d = c["choices"][0]["delta"];
    if (i == 0) role_first = d.value("role", "") == "assistant";
    if (d.contains("reasoning_content") && d["reasoning_content"].is_string()) {
      EXPECT_FALSE(content_started) << "reasoning after content";
      reasoning += d["reasoning_content"].get<std::string>();
    }
    if (d.contains("content") && d["content"].is_string() &&
        !d["content"].get<std::string>().empty()) {
      content_started = true;
      content += d["content"].get<std::string>();
    }
    if (c["choices"][0]["finish_reason"].is_string()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(role_first);
  const runtime::GenOutput want = reference(q, 300);
  const tmpl::ReasoningSplit split = tmpl::split_reasoning(want.text);
  EXPECT_EQ(reasoning, split.reasoning);
  EXPECT_EQ(content, split.content);
  EXPECT_EQ(finish, want.finish_reason);
  ASSERT_TRUE(usage.is_object());
  EXPECT_EQ(usage["completion_tokens"], want.tokens.size());
}

// thinking: false starts the assistant turn with an empty think block: all output is content.
TEST(Serve, ThinkingOffGivesContentOnly) {
  Serve s;
  const std::string q = "What is 12 + 30?";
  auto res =
      s.post("/v1/chat/completions", chat_body(q, {{"thinking", false}, {"max_tokens", 40}}));
  ASSERT_EQ(res->status, 200) << res->body;
  const json msg = json::parse(res->body)["choices"][0]["message"];
  EXPECT_TRUE(msg["reasoning_content"].is_null());
  const runtime::GenOutput want = reference(q, 40, "\n</think>\n\n");
  EXPECT_EQ(msg["content"], want.text);
  EXPECT_EQ(json::parse(res->body)["usage"]["completion_tokens_details"]["reasoning_tokens"], 0);
}

// n samples with a seed: sample j is the sample the Generator draws with seed + j.
TEST(Serve, SeededSamplesAreReproducible) {
  Serve s;
  json b = chat_body("What is 7 + 8?",
                     {{"n", 3}, {"temperature", 1.0}, {"seed", 11}, {"max_tokens", 30}});
  auto r1 = s.post("/v1/chat/completions", b);
  auto r2 = s.post("/v1/chat/completions", b);
  ASSERT_EQ(r1->status, 200) << r1->body;
  const json a = json::parse(r1->body), c = json::parse(r2->body);
  ASSERT_EQ(a["choices"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a["choices"][i]["index"], i);
    EXPECT_EQ(a["choices"][i]["message"], c["choices"][i]["message"]);
  }
}

TEST(Serve, LogprobsAreConsistent) {
  Serve s;
  auto res = s.post(
      "/v1/chat/completions",
      chat_body("What is 2 + 2?", {{"logprobs", true}, {"top_logprobs", 3}, {"max_tokens", 12}}));
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  const json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), j["usage"]["completion_tokens"].get<size_t>());
  std::string joined;
  for (const json& e : content) {
    ASSERT_EQ(e["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(e["top_logprobs"][0]["token"], e["token"]);
    EXPECT_DOUBLE_EQ(e["top_logprobs"][0]["logprob"].get<double>(), e["logprob"].get<double>());
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    for (int b : e["bytes"]) joined += static_cast<char>(b);
  }
  const json& msg = j["choices"][0]["message"];
  const std::string text = msg["reasoning_content"].get<std::string>();
  EXPECT_EQ(joined.substr(0, text.size()), text);
}

TEST(Serve, CompletionsEndpoint) {
  Serve s;
  json b = {{"model", "r1-arith"}, {"prompt", "12 + 5 ="}, {"max_tokens", 8},
            {"temperature", 0},    {"logprobs", 2},        {"echo", false}};
  auto res = s.post("/v1/completions", b);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  const json& ch = j["choices"][0];
  EXPECT_EQ(ch["logprobs"]["tokens"].size(), ch["logprobs"]["token_logprobs"].size());
  EXPECT_EQ(ch["logprobs"]["top_logprobs"][0].size(), 2u);
  Loaded& l = loaded();
  runtime::GenRequest r;
  r.prompt = l.tok.encode("12 + 5 =", true);
  r.sampling.temperature = 0;
  r.max_tokens = 8;
  runtime::Generator g(*l.model, &l.tok, l.eos);
  EXPECT_EQ(ch["text"], g.run({r})[0].text);
  // Two prompts as token ids, two samples each: choices prompt * n + sample; echo prepends.
  json b2 = {{"model", "r1-arith"},
             {"prompt", json::array({r.prompt, r.prompt})},
             {"n", 2},
             {"max_tokens", 4},
             {"echo", true},
             {"temperature", 0}};
  auto res2 = s.post("/v1/completions", b2);
  ASSERT_EQ(res2->status, 200) << res2->body;
  const json j2 = json::parse(res2->body);
  ASSERT_EQ(j2["choices"].size(), 4u);
  for (const json& c : j2["choices"])
    EXPECT_EQ(c["text"].get<std::string>().rfind(l.tok.decode(r.prompt), 0), 0u);
  EXPECT_EQ(j2["usage"]["prompt_tokens"], 2 * r.prompt.size());
}

TEST(Serve, TokenizeModelsHealthMetrics) {
  Serve s;
  auto t = s.post("/tokenize", {{"prompt", "What is 3 + 4?"}});
  ASSERT_EQ(t->status, 200) << t->body;
  const json tj = json::parse(t->body);
  EXPECT_EQ(tj["tokens"], loaded().tok.encode("What is 3 + 4?", true));
  EXPECT_EQ(tj["count"], tj["tokens"].size());
  auto d = s.post("/detokenize", {{"tokens", tj["tokens"]}});
  ASSERT_EQ(d->status, 200);
  EXPECT_EQ(json::parse(d->body)["prompt"], loaded().tok.decode(tj["tokens"]));
  auto tm =
      s.post("/tokenize", {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
  ASSERT_EQ(tm->status, 200);
  EXPECT_EQ(
      json::parse(tm->body)["tokens"],
      loaded().tok.encode(
          loaded().tmpl.render(json::array({{{"role", "user"}, {"content", "hi"}}}), {}), false));
  auto m = s.cli().Get("/v1/models");
  ASSERT_EQ(m->status, 200);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "r1-arith");
  EXPECT_EQ(s.cli().Get("/v1/models/r1-arith")->status, 200);
  EXPECT_EQ(s.cli().Get("/v1/models/gpt-4")->status, 404);
  EXPECT_EQ(s.cli().Get("/health")->status, 200);
  s.post("/v1/chat/completions", chat_body("What is 1 + 1?", {{"max_tokens", 5}}));
  auto mt = s.cli().Get("/metrics");
  ASSERT_EQ(mt->status, 200);
  for (const char* name :
       {"r1_requests_total{endpoint=\"chat_completions\",status=\"200\"} 1",
        "r1_generation_tokens_total 5", "# TYPE r1_time_to_first_token_seconds histogram",
        "r1_time_to_first_token_seconds_count 1", "r1_inter_token_latency_seconds_count 4",
        "r1_sequences_running 0", "r1_requests_waiting 0", "r1_prefix_cache_hit_rate",
        "r1_kv_cache_blocks_used 0", "r1_kv_cache_blocks_free -1"})
    EXPECT_NE(mt->body.find(name), std::string::npos) << name << "\n" << mt->body;
}

// Every refusal is OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
TEST(Serve, ErrorsAsOpenAI) {
  ServerOptions opt;
  opt.api_key = "sk-test";
  Serve s(opt);
  const httplib::Headers auth = {{"Authorization", "Bearer sk-test"}};
  struct Case {
    json body;
    int status;
    std::string param;
  };
  json long_msg = chat_body(std::string(8000, '7'));
  const std::vector<Case> cases = {
      {chat_body("hi", {{"temperature", 3}}), 400, "temperature"},
      {chat_body("hi", {{"temperature", "hot"}}), 400, "temperature"},
      {chat_body("hi", {{"n", 0}}), 400, "n"},
      {chat_body("hi", {{"max_tokens", -1}}), 400, "max_tokens"},
      {chat_body("hi", {{"top_logprobs", 2}}), 400, "top_logprobs"},
      {chat_body("hi", {{"stop", json::array({"a", "b", "c", "d", "e"})}}), 400, "stop"},
      {chat_body("hi", {{"frobnicate", true}}), 400, "frobnicate"},
      {chat_body("hi", {{"stream_options", {{"include_usage", true}}}}), 400, "stream_options"},
      {chat_body("hi", {{"tools", json::array({{{"type", "function"}}})}}), 400, "tools"},
      {chat_body("hi", {{"model", "gpt-4o"}}), 404, "model"},
      {chat_body("hi", {{"max_tokens", 100000}}), 400, "max_tokens"},
      {long_msg, 400, "messages"},
      {{{"model", "r1-arith"}}, 400, "messages"},
      {{{"model", "r1-arith"}, {"messages", json::array()}}, 400, "messages"},
      {{{"model", "r1-arith"}, {"messages", json::array({{{"role", "wizard"}, {"content", "x"}}})}},
       400,
       "messages[0].role"},
      {{{"model", "r1-arith"},
        {"messages",
         json::array({{{"role", "user"}, {"content", "hi"}},
                      {{"role", "assistant"}, {"content", "x"}, {"reasoning_content", "y"}},
                      {{"role", "user"}, {"content", "again"}}})}},
       400,
       "messages[1].reasoning_content"},
  };
  for (const Case& c : cases) {
    auto res = s.post("/v1/chat/completions", c.body, auth);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status) << c.body.dump() << "\n" << res->body;
    const json e = json::parse(res->body)["error"];
    EXPECT_TRUE(e["message"].is_string());
    EXPECT_TRUE(e["type"].is_string());
    EXPECT_EQ(e["param"], c.param) << res->body;
    EXPECT_TRUE(e.contains("code"));
  }
  auto bad = s.cli().Post("/v1/chat/completions", auth, "{not json", "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["code"], "invalid_json");
  EXPECT_EQ(s.post("/v1/chat/completions", chat_body("hi"))->status, 401);
  auto wrong = s.post("/v1/chat/completions", chat_body("hi"), {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(json::parse(wrong->body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(s.cli().Get("/health")->status, 200) << "health needs no key";
  auto nf = s.cli().Get("/v1/nothing", auth);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(json::parse(nf->body)["error"]["message"].is_string());
}

int64_t metric(Serve& s, const std::string& name) {
  auto m = s.cli().Get("/metrics");
  const size_t at = m->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(m->body.substr(at + name.size() + 2));
}

// A streaming client that hangs up frees its sequences at once: generation stops well short of
// what was asked.
TEST(Serve, DisconnectFreesTheSequences) {
  Serve s;
  httplib::Client c("127.0.0.1", s.server().port());
  std::atomic<int> chunks{0};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = chat_body("What is 1 + 1?",
                       {{"stream", true}, {"ignore_eos", true}, {"n", 16}, {"max_tokens", 480}})
                 .dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  c.send(req);
  ASSERT_EQ(chunks.load(), 3) << "the client hung up after its third read";
  for (int i = 0; i < 500 && metric(s, "r1_sequences_running") != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(metric(s, "r1_sequences_running"), 0);
  EXPECT_LT(metric(s, "r1_generation_tokens_total"), 16 * 480 / 2);
  EXPECT_EQ(s.post("/v1/chat/completions", chat_body("hi", {{"max_tokens", 2}}))->status, 200);
}

// One sequence at a time and no queue: of several requests at once, those that find the slot
// taken get 429 (with Retry-After); the others complete.
TEST(Serve, OverloadAnswers429) {
  ServerOptions opt;
  opt.engine.max_running = 1;
  opt.engine.max_waiting = 0;
  Serve s(opt);
  std::vector<int> status(6, 0);
  std::vector<std::string> bodies(6);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < status.size(); ++i)
    ts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", s.server().port());
      c.set_read_timeout(60, 0);
      auto r =
          c.Post("/v1/chat/completions",
                 chat_body("What is 2 + 3?", {{"ignore_eos", true}, {"max_tokens", 300}}).dump(),
                 "application/json");
      if (r) {
        status[i] = r->status;
        bodies[i] = r->body;
        if (r->status == 429) {
          EXPECT_EQ(r->get_header_value("Retry-After"), "1");
        }
      }
    });
  for (auto& t : ts) t.join();
  int ok = 0, busy = 0;
  for (size_t i = 0; i < status.size(); ++i) {
    if (status[i] == 200) {
      ++ok;
      EXPECT_EQ(json::parse(bodies[i])["usage"]["completion_tokens"], 300);
    } else {
      EXPECT_EQ(status[i], 429) << bodies[i];
      EXPECT_EQ(json::parse(bodies[i])["error"]["type"], "rate_limit_error");
      ++busy;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
}

// Shutdown with no grace: a running stream ends with an error event (not [DONE]); new requests
// get 503.
TEST(Serve, ShutdownEndsStreamsWithAnError) {
  ServerOptions opt;
  opt.shutdown_grace_seconds = 0;
  Serve s(opt);
  std::string body;
  std::atomic<bool> started{false};
  std::thread t([&] {
    httplib::Client c("127.0.0.1", s.server().port());
    c.set_read_timeout(60, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = chat_body("What is 5 + 5?",
                         {{"stream", true}, {"ignore_eos", true}, {"n", 16}, {"max_tokens", 480}})
                   .dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      body.append(data, n);
      started.store(true);
      return true;
    };
    c.send(req);
  });
  for (int i = 0; i < 1000 && !started.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  s.server().shutdown();
  t.join();
  const auto events = sse_data(body);
  ASSERT_FALSE(events.empty()) << body;
  EXPECT_NE(events.back().find("\"error\""), std::string::npos) << events.back();
  EXPECT_NE(events.back(), "[DONE]");
  auto late = s.cli().Get("/health");
  EXPECT_TRUE(!late || late->status == 503);
}

}  // namespace
}  // namespace r1::server
