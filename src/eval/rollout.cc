#include "eval/rollout.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/loaders.h"

namespace r1::eval {

PromptStyle parse_prompt_style(const std::string& name) {
  if (name == "chat") return PromptStyle::Chat;
  if (name == "r1-zero") return PromptStyle::R1Zero;
  fail_usage("--prompt-style must be chat or r1-zero, not \"", name, "\"");
}

std::string r1_zero_prompt(const std::string& question) {
  return "A conversation between User and Assistant. The user asks a question, and the Assistant "
         "solves it. The assistant first thinks about the reasoning process in the mind and then "
         "provides the user with the answer. The reasoning process and answer are enclosed within "
         "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
         "process here </think> <answer> answer here </answer>. User: " +
         question + ". Assistant:";
}

RolloutRunner::RolloutRunner(models::Model& model, const tok::Tokenizer& tokenizer,
                             const tmpl::ChatTemplate* chat, std::vector<int32_t> eos_ids)
    : tok_(tokenizer), chat_(chat), gen_(model, &tokenizer, std::move(eos_ids)) {}

const std::vector<int32_t>& RolloutRunner::prompt_ids(const Problem& p, PromptStyle style) {
  auto key = std::make_pair(p.id, static_cast<int>(style));
  auto it = prompts_.find(key);
  if (it != prompts_.end()) return it->second;
  std::vector<int32_t> ids;
  if (style == PromptStyle::Chat) {
    if (!chat_) fail_usage("the chat prompt style needs the model's chat template");
    nlohmann::json msgs = nlohmann::json::array({{{"role", "user"}, {"content", p.prompt}}});
    ids = tok_.encode(chat_->render(msgs, tmpl::ChatOptions()), false);  // the template has BOS
  } else {
    // The question alone: R1-Zero's template states the format itself, so the chat-style
    // instruction that loaders append for math ("Please reason step by step, ...") is left out.
    std::string q = p.prompt;
    const std::string tail = std::string("\n") + kMathInstruction;
    if (q.size() >= tail.size() && q.compare(q.size() - tail.size(), tail.size(), tail) == 0)
      q.resize(q.size() - tail.size());
    ids = tok_.encode(r1_zero_prompt(q), true);
  }
  return prompts_.emplace(key, std::move(ids)).first->second;
}

void RolloutRunner::run(const std::vector<Problem>& problems,
                        const std::vector<std::pair<size_t, int64_t>>& todo,
                        const Verifier& verifier, const RolloutOptions& o,
                        const std::function<void(Rollout&&)>& on_done) {
  // Consecutive samples of a problem form one request of up to o.batch samples.
  std::vector<runtime::GenRequest> reqs;
  std::vector<std::vector<std::pair<size_t, int64_t>>> who;
  for (const auto& [p, s] : todo) {
    const bool extends = !reqs.empty() && who.back().back().first == p &&
                         who.back().back().second + 1 == s && reqs.back().n < o.batch;
    if (extends) {
      ++reqs.back().n;
    } else {
      runtime::GenRequest r;
      r.prompt = prompt_ids(problems[p], o.style);
      r.sampling = o.sampling;
      r.sampling.seed = o.sampling.seed + p * 1000003ull + static_cast<uint64_t>(s);
      r.max_tokens = o.max_tokens;
      r.logprobs = o.logprobs;
      reqs.push_back(std::move(r));
      who.emplace_back();
    }
    who.back().push_back({p, s});
  }
  gen_.run_each(reqs, std::max<int64_t>(1, o.batch),
                [&](size_t q, std::vector<runtime::GenOutput>&& outs) {
                  for (size_t i = 0; i < outs.size(); ++i) {
                    Rollout r;
                    r.problem = who[q][i].first;
                    r.sample = who[q][i].second;
                    r.verdict = verifier.evaluate(problems[r.problem], outs[i].text);
                    r.out = std::move(outs[i]);
                    on_done(std::move(r));
                  }
                });
}

}  // namespace r1::eval
