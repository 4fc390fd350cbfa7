// One conversation with a chat model: the message history, the prompt rendered by the model's
// chat template (R1 conventions: system folded into the first user turn, generation prompt ending
// in "<think>\n"), and streamed replies split into reasoning and answer.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/common.h"
#include "runtime/generator.h"
#include "tokenizer/template/chat_template.h"

namespace r1::cli {

struct ChatReply {
  std::string reasoning, content;
  std::string raw;  // the model's whole output text
  std::string finish_reason;
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

class ChatSession {
 public:
  ChatSession(LoadedModel& lm, tmpl::ChatOptions opt);

  void set_system(const std::string& text) { system_ = text; }
  void reset() { messages_ = nlohmann::json::array(); }
  // Renders the conversation plus this user turn, generates, and (unless the reply was
  // cancelled) keeps both turns in the history. on_reasoning / on_content get text as it
  // streams.
  ChatReply send(const std::string& user, const runtime::GenRequest& settings,
                 const std::function<void(const std::string&)>& on_reasoning,
                 const std::function<void(const std::string&)>& on_content,
                 const std::atomic<bool>* cancel = nullptr);
  // The prompt text the next user turn would be rendered into.
  std::string render_with(const std::string& user) const;

 private:
  LoadedModel& lm_;
  tmpl::ChatTemplate template_;
  tmpl::ChatOptions opt_;
  std::string system_;
  nlohmann::json messages_ = nlohmann::json::array();
};

}  // namespace r1::cli
