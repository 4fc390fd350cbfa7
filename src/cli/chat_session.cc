#include "cli/chat_session.h"

#include "core/error.h"
#include "tokenizer/template/reasoning.h"

namespace r1::cli {

using nlohmann::json;

ChatSession::ChatSession(LoadedModel& lm, tmpl::ChatOptions opt)
    : lm_(lm), template_(tmpl::ChatTemplate::load(lm.dir)), opt_(std::move(opt)) {
  if (!lm_.tokenizer) fail_input(lm_.dir, ": no tokenizer.json; chat needs one");
}

std::string ChatSession::render_with(const std::string& user) const {
  json msgs = json::array();
  if (!system_.empty()) msgs.push_back({{"role", "system"}, {"content", system_}});
  for (const auto& m : messages_) msgs.push_back(m);
  msgs.push_back({{"role", "user"}, {"content", user}});
  return template_.render(msgs, opt_);
}

ChatReply ChatSession::send(const std::string& user, const runtime::GenRequest& settings,
                            const std::function<void(const std::string&)>& on_reasoning,
                            const std::function<void(const std::string&)>& on_content,
                            const std::atomic<bool>* cancel) {
  runtime::GenRequest req = settings;
  // The template writes BOS and the role markers itself.
  req.prompt = lm_.tokenizer->encode(render_with(user), false);
  runtime::Generator gen(*lm_.model, &*lm_.tokenizer, lm_.eos_ids);
  tmpl::ReasoningStream split;
  ChatReply reply;
  auto emit = [&](const tmpl::ReasoningSplit& s) {
    reply.reasoning += s.reasoning;
    reply.content += s.content;
    if (!s.reasoning.empty() && on_reasoning) on_reasoning(s.reasoning);
    if (!s.content.empty() && on_content) on_content(s.content);
  };
  runtime::GenOutput out = gen.run(
      {req}, [&](size_t, const std::string& delta) { emit(split.feed(delta)); }, cancel)[0];
  emit(split.finish());
  reply.raw = out.text;
  reply.finish_reason = out.finish_reason;
  reply.prompt_tokens = out.prompt_tokens;
  reply.completion_tokens = static_cast<int64_t>(out.tokens.size());
  if (out.finish_reason != "cancelled") {
    messages_.push_back({{"role", "user"}, {"content", user}});
    // The raw output: the template drops earlier reasoning itself (R1: content after </think>).
    messages_.push_back({{"role", "assistant"}, {"content", out.text}});
  }
  return reply;
}

}  // namespace r1::cli
