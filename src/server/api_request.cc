#include "server/api_request.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "server/api_error.h"

namespace r1::server {

using nlohmann::json;

namespace {

// The field's value, or null when absent or JSON null (OpenAI treats both as "not given").
const json* get(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string fmt(double v) {
  json j = v;
  return j.dump();
}

double number(const json& body, const char* name, double lo, double hi, double dflt) {
  const json* v = get(body, name);
  if (!v) return dflt;
  if (!v->is_number())
    bad_param(name, std::string("'") + name + "' must be a number", "invalid_type");
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi))
    bad_param(name,
              std::string("'") + name + "' must be between " + fmt(lo) + " and " + fmt(hi) +
                  ", got " + fmt(x),
              "invalid_value");
  return x;
}

int64_t integer(const json& body, const char* name, int64_t lo, int64_t hi, int64_t dflt,
                bool* given = nullptr) {
  const json* v = get(body, name);
  if (given) *given = v != nullptr;
  if (!v) return dflt;
  if (!v->is_number_integer())
    bad_param(name, std::string("'") + name + "' must be an integer", "invalid_type");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad_param(name, std::string("'") + name + "' is too large", "invalid_value");
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi)
    bad_param(name,
              std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                  std::to_string(hi) + ", got " + std::to_string(x),
              "invalid_value");
  return x;
}

bool boolean(const json& body, const char* name, bool dflt) {
  const json* v = get(body, name);
  if (!v) return dflt;
  if (!v->is_boolean())
    bad_param(name, std::string("'") + name + "' must be a boolean", "invalid_type");
  return v->get<bool>();
}

// The fields both endpoints take (parse_sampling reads them; logprobs differs in type).
const std::set<std::string>& sampling_fields() {
  static const std::set<std::string> f = {"model",
                                          "stream",
                                          "stream_options",
                                          "n",
                                          "max_tokens",
                                          "temperature",
                                          "top_p",
                                          "top_k",
                                          "min_p",
                                          "repetition_penalty",
                                          "stop",
                                          "seed",
                                          "presence_penalty",
                                          "frequency_penalty",
                                          "logprobs",
                                          "user",
                                          "logit_bias",
                                          "ignore_eos"};
  return f;
}

void check_fields(const json& body, const std::set<std::string>& known,
                  const std::set<std::string>& more = {}) {
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!known.count(it.key()) && !more.count(it.key()))
      bad_param(it.key(), "unrecognized request argument supplied: " + it.key(),
                "unrecognized_argument");
}

// Fields OpenAI defines that r1 accepts only at their no-op value.
void refuse_unless_empty(const json& body, const char* name) {
  const json* v = get(body, name);
  if (v && !v->empty())
    bad_param(name, std::string("'") + name + "' is not supported by this server",
              "unsupported_parameter");
}

SamplingRequest parse_sampling(const json& body, bool chat, const runtime::SamplingParams& d) {
  SamplingRequest s;
  const json* model = get(body, "model");
  if (!model)
    bad_param("model", "you must provide a model parameter", "missing_required_parameter");
  if (!model->is_string()) bad_param("model", "'model' must be a string", "invalid_type");
  s.model = model->get<std::string>();
  runtime::SamplingParams& sp = s.gen.sampling;
  sp = d;
  sp.temperature = static_cast<float>(number(body, "temperature", 0, 2, d.temperature));
  const double top_p = number(body, "top_p", 0, 1, d.top_p);
  // top_p 0 keeps the most likely token alone.
  sp.top_p = top_p > 0 ? static_cast<float>(top_p) : 1.0f;
  sp.top_k = static_cast<int>(integer(body, "top_k", -1, 1 << 30, d.top_k));
  if (sp.top_k < 0) sp.top_k = 0;  // vLLM's -1: off
  if (top_p == 0) sp.top_k = 1;
  sp.min_p = static_cast<float>(number(body, "min_p", 0, 1, d.min_p));
  sp.repetition_penalty =
      static_cast<float>(number(body, "repetition_penalty", 0.01, 100, d.repetition_penalty));
  sp.presence_penalty =
      static_cast<float>(number(body, "presence_penalty", -2, 2, d.presence_penalty));
  sp.frequency_penalty =
      static_cast<float>(number(body, "frequency_penalty", -2, 2, d.frequency_penalty));
  bool seeded = false;
  sp.seed = static_cast<uint64_t>(integer(body, "seed", INT64_MIN, INT64_MAX, 0, &seeded));
  s.seeded = seeded;
  s.gen.n = integer(body, "n", 1, 128, 1);
  bool given1 = false, given2 = false;
  const int64_t mt = integer(body, "max_tokens", 1, INT64_MAX, 0, &given1);
  const int64_t mct = chat ? integer(body, "max_completion_tokens", 1, INT64_MAX, 0, &given2) : 0;
  s.max_tokens_given = given1 || given2;
  s.gen.max_tokens = given2 ? mct : given1 ? mt : (chat ? INT64_MAX : 16);
  if (!chat) s.max_tokens_given = true;  // OpenAI's completions default to 16 tokens
  if (const json* stop = get(body, "stop")) {
    if (stop->is_string()) {
      s.gen.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 4)
        bad_param("stop", "'stop' may hold at most 4 sequences", "invalid_value");
      for (const json& x : *stop) {
        if (!x.is_string())
          bad_param("stop", "'stop' must be a string or a list of strings", "invalid_type");
        s.gen.stop.push_back(x.get<std::string>());
      }
    } else {
      bad_param("stop", "'stop' must be a string or a list of strings", "invalid_type");
    }
    for (const std::string& x : s.gen.stop)
      if (x.empty()) bad_param("stop", "a stop sequence must not be empty", "invalid_value");
  }
  s.stream = boolean(body, "stream", false);
  if (const json* so = get(body, "stream_options")) {
    if (!s.stream)
      bad_param("stream_options", "'stream_options' is only allowed when 'stream' is true",
                "invalid_value");
    if (!so->is_object())
      bad_param("stream_options", "'stream_options' must be an object", "invalid_type");
    check_fields(*so, {"include_usage", "continuous_usage_stats"});
    s.include_usage = boolean(*so, "include_usage", false);
  }
  s.gen.ignore_eos = boolean(body, "ignore_eos", false);
  refuse_unless_empty(body, "logit_bias");
  return s;
}

// A message's content as text: a string, or a list of text parts joined.
json message_text(const json& m, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) return nullptr;
  if (it->is_string()) return *it;
  if (!it->is_array())
    bad_param(param, "content must be a string or a list of parts", "invalid_type");
  std::string text;
  for (const json& part : *it) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      bad_param(param, "each content part must be an object with a 'type'", "invalid_type");
    if (part["type"] != "text")
      bad_param(param,
                "content parts of type '" + part["type"].get<std::string>() +
                    "' are not supported (text only)",
                "unsupported_content");
    if (!part.contains("text") || !part["text"].is_string())
      bad_param(param, "a text part needs a string 'text'", "invalid_type");
    text += part["text"].get<std::string>();
  }
  return text;
}

json parse_messages(const json& body) {
  const json* msgs = get(body, "messages");
  if (!msgs) bad_param("messages", "'messages' is required", "missing_required_parameter");
  if (!msgs->is_array()) bad_param("messages", "'messages' must be a list", "invalid_type");
  if (msgs->empty()) bad_param("messages", "'messages' must not be empty", "invalid_value");
  json out = json::array();
  static const std::set<std::string> roles = {"system", "developer", "user", "assistant", "tool"};
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_param(at, at + " must be an object", "invalid_type");
    if (m.contains("reasoning_content"))
      bad_param(at + ".reasoning_content",
                "reasoning_content must not be sent back in input messages; send the content "
                "alone",
                "invalid_value");
    check_fields(m, {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"});
    if (!m.contains("role") || !m["role"].is_string())
      bad_param(at + ".role", at + " needs a string 'role'", "invalid_type");
    std::string role = m["role"].get<std::string>();
    if (!roles.count(role)) bad_param(at + ".role", "unknown role '" + role + "'", "invalid_value");
    if (role == "developer") role = "system";  // OpenAI's newer name for it
    json text = message_text(m, i);
    if (text.is_null() && role != "assistant")
      bad_param(at + ".content", at + " needs content", "missing_required_parameter");
    json o = {{"role", role}, {"content", text.is_null() ? json("") : text}};
    if (m.contains("name")) o["name"] = m["name"];
    if (m.contains("tool_calls")) o["tool_calls"] = m["tool_calls"];
    if (m.contains("tool_call_id")) o["tool_call_id"] = m["tool_call_id"];
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

json parse_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "",
                   "invalid_json");
  if (!j.is_object())
    throw ApiError(400, "the request body must be a JSON object", "invalid_request_error", "",
                   "invalid_json");
  return j;
}

ChatRequest parse_chat_request(const json& body, const runtime::SamplingParams& defaults) {
  check_fields(body, sampling_fields(),
               {"messages", "max_completion_tokens", "top_logprobs", "metadata", "store",
                "response_format", "tools", "tool_choice", "parallel_tool_calls", "service_tier",
                "thinking", "chat_template_kwargs"});
  ChatRequest r;
  r.s = parse_sampling(body, true, defaults);
  r.messages = parse_messages(body);
  const bool logprobs = boolean(body, "logprobs", false);
  const int64_t top = integer(body, "top_logprobs", 0, 20, 0);
  if (get(body, "top_logprobs") && !logprobs)
    bad_param("top_logprobs", "'top_logprobs' needs 'logprobs' set to true", "invalid_value");
  r.s.top_logprobs = logprobs ? static_cast<int>(top) : -1;
  if (const json* rf = get(body, "response_format")) {
    if (!rf->is_object() || rf->value("type", "") != "text")
      bad_param("response_format", "only response_format {\"type\": \"text\"} is supported",
                "unsupported_parameter");
  }
  refuse_unless_empty(body, "tools");
  if (const json* tc = get(body, "tool_choice"))
    if (*tc != "none" && *tc != "auto")
      bad_param("tool_choice", "tools are not supported by this server", "unsupported_parameter");
  if (const json* k = get(body, "chat_template_kwargs")) {
    if (!k->is_object())
      bad_param("chat_template_kwargs", "'chat_template_kwargs' must be an object", "invalid_type");
    for (const char* name : {"thinking", "enable_thinking"})
      if (k->contains(name) && (*k)[name].is_boolean() && !(*k)[name].get<bool>())
        r.thinking = false;
    r.template_vars = *k;
  }
  if (get(body, "thinking")) r.thinking = boolean(body, "thinking", true);
  return r;
}

CompletionRequest parse_completion_request(const json& body,
                                           const runtime::SamplingParams& defaults) {
  check_fields(body, sampling_fields(), {"prompt", "echo", "suffix", "best_of"});
  CompletionRequest r;
  r.s = parse_sampling(body, false, defaults);
  const int64_t lp = integer(body, "logprobs", 0, 5, -1);
  r.s.top_logprobs = static_cast<int>(lp);
  r.echo = boolean(body, "echo", false);
  if (r.echo && lp >= 0)
    bad_param("echo", "'echo' together with 'logprobs' is not supported", "unsupported_parameter");
  if (const json* sfx = get(body, "suffix"))
    if (!sfx->is_string() || !sfx->get<std::string>().empty())
      bad_param("suffix", "'suffix' is not supported by this server", "unsupported_parameter");
  const int64_t best_of = integer(body, "best_of", 1, 128, r.s.gen.n);
  if (best_of != r.s.gen.n)
    bad_param("best_of", "'best_of' must equal 'n' (no server-side selection)",
              "unsupported_parameter");
  const json* p = get(body, "prompt");
  if (!p) bad_param("prompt", "'prompt' is required", "missing_required_parameter");
  auto bad = [] {
    bad_param("prompt",
              "'prompt' must be a string, a list of strings, a list of token ids or a list of "
              "lists of token ids",
              "invalid_type");
  };
  auto ids_of = [&](const json& a) {
    std::vector<int32_t> ids;
    for (const json& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) bad();
      ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
    }
    return ids;
  };
  if (p->is_string()) {
    r.texts.push_back(p->get<std::string>());
  } else if (p->is_array() && !p->empty()) {
    if ((*p)[0].is_string()) {
      for (const json& x : *p) {
        if (!x.is_string()) bad();
        r.texts.push_back(x.get<std::string>());
      }
    } else if ((*p)[0].is_number()) {
      r.ids.push_back(ids_of(*p));
    } else {
      for (const json& x : *p) {
        if (!x.is_array() || x.empty()) bad();
        r.ids.push_back(ids_of(x));
      }
    }
  } else {
    bad();
  }
  if (r.texts.size() + r.ids.size() > 64)
    bad_param("prompt", "at most 64 prompts per request", "invalid_value");
  return r;
}

}  // namespace r1::server
