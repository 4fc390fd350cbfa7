#include "server/generation.h"

#include <random>

#include "core/clock.h"
#include "core/error.h"
#include "server/api_error.h"

namespace r1::server {

using nlohmann::json;

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += digits[rng() & 15];
  return s;
}

Generation::Generation(runtime::Engine& engine, const tok::Tokenizer& tok, Metrics& metrics,
                       GenerationSetup setup)
    : engine_(engine),
      tok_(tok),
      metrics_(metrics),
      setup_(std::move(setup)),
      id_((setup_.endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + random_hex(24)),
      created_(static_cast<int64_t>(std::time(nullptr))),
      start_(now_seconds()),
      pending_(std::make_shared<Pending>()) {}

Generation::~Generation() {
  cancel();
}

void Generation::cancel() {
  for (auto& t : tickets_) t->cancel();
}

void Generation::submit(runtime::GenRequest req, const std::string& echo_text) {
  const size_t sub = tickets_.size();
  const int64_t n = req.n;
  const int64_t prompt = static_cast<int64_t>(req.prompt.size());
  runtime::EngineRequest er;
  er.gen = std::move(req);
  er.top_logprobs = setup_.top_logprobs;
  er.on_delta = [p = pending_, sub](const runtime::SampleDelta& d) {
    {
      std::lock_guard<std::mutex> l(p->mu);
      p->deltas.push_back({sub, d});
      p->times.push_back(now_seconds());
    }
    p->cv.notify_all();
  };
  std::shared_ptr<runtime::EngineTicket> t;
  try {
    t = engine_.submit(std::move(er));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Internal) throw;
    throw ApiError(400, e.what());
  }
  if (!t)
    throw ApiError(429, "the server is busy (its request queue is full); retry later",
                   "rate_limit_error", "", "rate_limit_exceeded");
  tickets_.push_back(t);
  first_choice_.push_back(choices_.size());
  prompt_tokens_.push_back(prompt);
  for (int64_t s = 0; s < n; ++s) {
    choices_.emplace_back();
    choices_.back().split = tmpl::ReasoningStream(setup_.thinking);
    choices_.back().text = echo_text;
  }
}

bool Generation::wait(std::chrono::milliseconds timeout) {
  if (finished_ == choices_.size()) return false;
  std::deque<std::pair<size_t, runtime::SampleDelta>> got;
  std::vector<double> times;
  {
    std::unique_lock<std::mutex> l(pending_->mu);
    pending_->cv.wait_for(l, timeout, [&] { return !pending_->deltas.empty(); });
    got.swap(pending_->deltas);
    times.swap(pending_->times);
  }
  for (size_t i = 0; i < got.size(); ++i) apply(got[i].first, got[i].second, times[i]);
  if (finished_ == choices_.size()) {
    metrics_.request_latency(now_seconds() - start_);
    if (setup_.stream && !done_sent_) {
      if (!failed()) {
        if (setup_.include_usage) {
          json u = chunk_base();
          u["choices"] = json::array();
          u["usage"] = usage();
          events_ += "data: " + dump_json(u) + "\n\n";
        }
        events_ += "data: [DONE]\n\n";
      }
      done_sent_ = true;
    }
    return false;
  }
  return true;
}

json Generation::chunk_base() const {
  json c = {
      {"id", id_},
      {"object", setup_.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
      {"created", created_},
      {"model", setup_.model},
      {"system_fingerprint", "r1"}};
  if (setup_.include_usage) c["usage"] = nullptr;
  return c;
}

json Generation::logprobs_json(const std::vector<runtime::TokenLogprob>& lps,
                               const std::vector<size_t>& offsets) const {
  if (setup_.endpoint == Endpoint::Chat) {
    auto entry = [&](int32_t id, float lp) {
      const std::string b = tok_.token_bytes(id);
      json bytes = json::array();
      for (unsigned char c : b) bytes.push_back(static_cast<int>(c));
      return json{{"token", b}, {"logprob", lp}, {"bytes", bytes}};
    };
    json content = json::array();
    for (const auto& t : lps) {
      json e = entry(t.id, t.logprob);
      e["top_logprobs"] = json::array();
      for (const auto& [id, lp] : t.top) e["top_logprobs"].push_back(entry(id, lp));
      content.push_back(std::move(e));
    }
    return {{"content", content}};
  }
  json tokens = json::array(), token_lps = json::array(), tops = json::array(),
       offsets_json = json::array();
  for (size_t i = 0; i < lps.size(); ++i) {
    const runtime::TokenLogprob& t = lps[i];
    tokens.push_back(tok_.token_bytes(t.id));
    token_lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& [id, lp] : t.top) top[tok_.token_bytes(id)] = lp;
    tops.push_back(top);
    offsets_json.push_back(i < offsets.size() ? offsets[i] : 0);
  }
  return {{"tokens", tokens},
          {"token_logprobs", token_lps},
          {"top_logprobs", tops},
          {"text_offset", offsets_json}};
}

void Generation::apply(size_t sub, const runtime::SampleDelta& d, double t) {
  const size_t index = first_choice_[sub] + d.sample;
  Choice& c = choices_[index];
  if (!c.finish.empty()) return;
  const bool chat = setup_.endpoint == Endpoint::Chat;
  if (!d.tokens.empty()) {
    if (!first_token_seen_) {
      first_token_seen_ = true;
      metrics_.time_to_first_token(t - start_);
    } else if (c.last_token_time > 0) {
      for (size_t k = 0; k < d.tokens.size(); ++k)
        metrics_.inter_token_latency((t - c.last_token_time) /
                                     static_cast<double>(d.tokens.size()));
    }
    c.last_token_time = t;
  }
  if (setup_.thinking && !c.split.in_content())
    c.reasoning_tokens += static_cast<int64_t>(d.tokens.size());
  c.tokens += static_cast<int64_t>(d.tokens.size());
  cached_tokens_ += d.cached_prompt_tokens;
  if (d.finish_reason == "error" || d.finish_reason == "cancelled") {
    c.finish = d.finish_reason;
    ++finished_;
    if (error_.empty())
      error_ = d.finish_reason == "error"
                   ? "generation failed: " + d.error
                   : "the request was cancelled (the server is shutting down)";
    if (setup_.stream && !done_sent_) {
      events_ += "data: " + dump_json(error_body()) + "\n\n";
      done_sent_ = true;
    }
    return;
  }
  const size_t offset_before = c.text.size();
  const std::vector<size_t> offsets(d.logprobs.size(), offset_before);
  std::vector<json> events;
  auto with_logprobs = [&](json choice) {
    choice["logprobs"] = nullptr;
    if (setup_.top_logprobs >= 0 && !d.logprobs.empty() && events.empty())
      choice["logprobs"] = logprobs_json(d.logprobs, offsets);
    return choice;
  };
  if (chat) {
    tmpl::ReasoningSplit s = c.split.feed(d.text);
    if (!d.finish_reason.empty()) {
      tmpl::ReasoningSplit f = c.split.finish();
      s.reasoning += f.reasoning;
      s.content += f.content;
    }
    c.reasoning += s.reasoning;
    c.content += s.content;
    if (setup_.stream) {
      if (!c.started) {
        c.started = true;
        events.push_back(json{{"index", index},
                              {"delta", {{"role", "assistant"}, {"content", ""}}},
                              {"logprobs", nullptr},
                              {"finish_reason", nullptr}});
      }
      if (!s.reasoning.empty())
        events.push_back(
            with_logprobs({{"index", index},
                           {"delta", {{"reasoning_content", s.reasoning}, {"content", nullptr}}},
                           {"finish_reason", nullptr}}));
      if (!s.content.empty())
        events.push_back(
            with_logprobs({{"index", index},
                           {"delta", {{"content", s.content}, {"reasoning_content", nullptr}}},
                           {"finish_reason", nullptr}}));
    }
  } else {
    c.text += d.text;
    if (setup_.stream) {
      const std::string piece = c.text.substr(c.started ? offset_before : 0);
      c.started = true;
      if (!piece.empty() || !d.logprobs.empty())
        events.push_back(
            with_logprobs({{"index", index}, {"text", piece}, {"finish_reason", nullptr}}));
    }
  }
  if (setup_.top_logprobs >= 0) {
    if (setup_.stream && events.empty() && !d.logprobs.empty()) {
      // Tokens whose text is still held back: their logprobs go out with an empty delta.
      json ch = {{"index", index}, {"finish_reason", nullptr}};
      if (chat)
        ch["delta"] = json::object();
      else
        ch["text"] = "";
      ch["logprobs"] = logprobs_json(d.logprobs, offsets);
      events.push_back(ch);
    }
    c.logprobs.insert(c.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    c.offsets.insert(c.offsets.end(), offsets.begin(), offsets.end());
  }
  if (!d.finish_reason.empty()) {
    c.finish = d.finish_reason;
    ++finished_;
    if (setup_.stream) {
      json ch = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", c.finish}};
      if (chat)
        ch["delta"] = json::object();
      else
        ch["text"] = "";
      events.push_back(ch);
    }
  }
  for (json& e : events) {
    json chunk = chunk_base();
    chunk["choices"] = json::array({std::move(e)});
    events_ += "data: " + dump_json(chunk) + "\n\n";
  }
}

std::string Generation::take_events() {
  std::string out;
  out.swap(events_);
  return out;
}

json Generation::usage() const {
  int64_t prompt = 0, completion = 0, reasoning = 0;
  for (int64_t p : prompt_tokens_) prompt += p;
  for (const Choice& c : choices_) completion += c.tokens, reasoning += c.reasoning_tokens;
  json u = {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion},
            {"prompt_tokens_details", {{"cached_tokens", cached_tokens_}}}};
  if (setup_.endpoint == Endpoint::Chat)
    u["completion_tokens_details"] = {{"reasoning_tokens", reasoning}};
  return u;
}

json Generation::error_body() const {
  return ApiError(500, error_, "server_error").body();
}

json Generation::response() const {
  const bool chat = setup_.endpoint == Endpoint::Chat;
  json choices = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json ch = {{"index", i}, {"finish_reason", c.finish}, {"logprobs", nullptr}};
    if (setup_.top_logprobs >= 0) ch["logprobs"] = logprobs_json(c.logprobs, c.offsets);
    if (chat) {
      ch["message"] = {{"role", "assistant"},
                       {"content", c.content},
                       {"reasoning_content", setup_.thinking ? json(c.reasoning) : json(nullptr)}};
    } else {
      ch["text"] = c.text;
    }
    choices.push_back(std::move(ch));
  }
  return {{"id", id_},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", created_},
          {"model", setup_.model},
          {"system_fingerprint", "r1"},
          {"choices", choices},
          {"usage", usage()}};
}

}  // namespace r1::server
