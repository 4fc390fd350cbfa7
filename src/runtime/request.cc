#include "runtime/request.h"

#include <algorithm>

#include "core/error.h"

namespace r1::runtime {

size_t stop_holdback(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > best; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        best = k;
        break;
      }
  return best;
}

OutputBuilder::OutputBuilder(const GenRequest& r, const tok::Tokenizer* tokenizer,
                             const std::vector<int32_t>* eos, size_t index,
                             const TextCallback* on_text, int64_t context)
    : r_(&r), eos_(eos), index_(index), on_text_(on_text) {
  if (tokenizer) decoder_ = std::make_unique<tok::StreamDecoder>(*tokenizer, false);
  out_.prompt_tokens = static_cast<int64_t>(r.prompt.size());
  for (const std::string& s : r.stop)
    if (s.empty()) fail_input("request ", index, ": a stop string must not be empty");
  if (out_.prompt_tokens > context)
    fail_input("request ", index, ": a prompt of ", out_.prompt_tokens,
               " tokens does not fit the context of ", context, " tokens (see --ctx)");
  // The last token sampled is never run through the model, so prompt + reply may fill the
  // context exactly.
  limit_ = std::min(r.max_tokens, context - out_.prompt_tokens);
  if (limit_ <= 0) out_.finish_reason = "length";
}

void OutputBuilder::finish(const std::string& reason) {
  if (done()) return;
  out_.finish_reason = reason;
  push(-1);
}

bool OutputBuilder::push(int32_t token) {
  GenOutput& o = out_;
  if (token < 0) {
    // finish(): only flush below
  } else if (!r_->ignore_eos && std::find(eos_->begin(), eos_->end(), token) != eos_->end()) {
    o.finish_reason = "stop";
    o.eos_token = token;
  } else {
    o.tokens.push_back(token);
    if (decoder_) o.text += decoder_->push(token);
    if (!r_->stop.empty()) {
      size_t cut = std::string::npos;
      for (const auto& s : r_->stop) cut = std::min(cut, o.text.find(s));
      if (cut != std::string::npos) {
        o.text.resize(cut);
        o.finish_reason = "stop";
        decoder_.reset();  // the text is final; nothing held back may follow the cut
      }
    }
    if (o.finish_reason.empty() && static_cast<int64_t>(o.tokens.size()) >= limit_)
      o.finish_reason = "length";
  }
  if (!o.finish_reason.empty() && decoder_) {
    o.text += decoder_->flush();
    decoder_.reset();
  }
  if (on_text_ && *on_text_ && emitted_ < o.text.size()) {
    size_t safe =
        o.finish_reason.empty() ? o.text.size() - stop_holdback(o.text, r_->stop) : o.text.size();
    if (safe > emitted_) {
      (*on_text_)(index_, o.text.substr(emitted_, safe - emitted_));
      emitted_ = safe;
    }
  }
  return !done();
}

}  // namespace r1::runtime
