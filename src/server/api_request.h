// Reading and validating the bodies of OpenAI requests (/v1/chat/completions, /v1/completions):
// every field is checked for its type and range, unknown top-level fields are refused (as
// OpenAI does), and what r1 does not implement is refused by name rather than ignored. Errors are
// ApiError 400 naming the parameter.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/request.h"

namespace r1::server {

// What both endpoints share: sampling, limits, streaming.
struct SamplingRequest {
  std::string model;
  runtime::GenRequest gen;  // all but the prompt
  bool max_tokens_given = false;
  bool seeded = false;  // the request gave a seed (else the server draws one)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int top_logprobs = -1;       // -1: no logprobs
};

struct ChatRequest {
  SamplingRequest s;
  nlohmann::json messages;  // validated: roles, string contents (text parts joined)
  // false: skip thinking (the assistant turn starts with an empty think block). Set by
  // "thinking": false or chat_template_kwargs {"thinking" | "enable_thinking": false}.
  bool thinking = true;
  nlohmann::json template_vars;  // chat_template_kwargs, or null
};

struct CompletionRequest {
  SamplingRequest s;
  // Each prompt as text, or as token ids when the request gave ids.
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  bool echo = false;
};

// defaults: the server's sampling settings (R1's recommendations unless its flags say
// otherwise), which the request's fields override.
ChatRequest parse_chat_request(const nlohmann::json& body, const runtime::SamplingParams& defaults);
CompletionRequest parse_completion_request(const nlohmann::json& body,
                                           const runtime::SamplingParams& defaults);

// Parses a request body; 400 for JSON that does not parse or is not an object.
nlohmann::json parse_body(const std::string& body);

}  // namespace r1::server
