#include "runtime/generator.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/clock.h"
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

Generator::Generator(models::Model& model, const tok::Tokenizer* tokenizer,
                     std::vector<int32_t> eos_ids, DType kv_dtype)
    : model_(model), tok_(tokenizer), eos_(std::move(eos_ids)), kv_dtype_(kv_dtype) {}

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

std::vector<GenOutput> Generator::run(const std::vector<GenRequest>& reqs,
                                      const TextCallback& on_text,
                                      const std::atomic<bool>* cancel) {
  struct Active {
    int slot;
    Sampler sampler;
    OutputBuilder builder;
    int32_t next = -1;  // token sampled but not yet fed to the model
  };
  const int64_t vocab = model_.config().vocab;
  models::KvCache cache = model_.new_cache();
  cache.set_dtype(kv_dtype_);
  std::vector<Active> act;
  std::vector<const GenRequest*> req_of;  // the request of each output
  size_t total = 0;
  for (const GenRequest& r : reqs) {
    if (r.n < 1) fail_internal("a generation request with n = ", r.n);
    total += static_cast<size_t>(r.n);
  }
  act.reserve(total);
  std::vector<float> row;  // a copy of one row of logits (the sampler may change it)
  // Samples token i's next token from logits z (its logprob first, from the unchanged row).
  auto accept = [&](size_t i, const float* z) {
    const GenRequest& r = *req_of[i];
    row.assign(z, z + vocab);
    const int32_t token =
        act[i].sampler.sample(row.data(), vocab, r.prompt, act[i].builder.out().tokens);
    if (r.logprobs) {
      const float inv_t = r.sampling.temperature > 0 ? 1.0f / r.sampling.temperature : 1.0f;
      const double lp = log_normalizer(z, vocab, inv_t).logprob(z, token, inv_t);
      act[i].builder.out().logprobs.push_back(static_cast<float>(lp));
    }
    act[i].next = token;
    return act[i].builder.push(token);
  };

  // Prefill each prompt once (one sequence, many tokens: the matrix-matrix path); its samples
  // continue from forks of that cache.
  for (size_t q = 0; q < reqs.size(); ++q) {
    const GenRequest& r = reqs[q];
    r.sampling.validate();
    if (r.prompt.empty()) fail_input("request ", q, ": empty prompt");
    if (!r.stop.empty() && !tok_) fail_usage("stop strings need a tokenizer");
    const size_t first = act.size();
    const int slot = cache.add_sequence();
    for (int64_t j = 0; j < r.n; ++j) {
      SamplingParams sp = r.sampling;
      sp.seed = r.sampling.seed + static_cast<uint64_t>(j);
      act.push_back({j == 0 ? slot : -1, Sampler(sp),
                     OutputBuilder(r, tok_, &eos_, act.size(), &on_text, cache.max_positions())});
      req_of.push_back(&r);
    }
    if (act[first].builder.done()) {  // no room for a token: every sample is finished
      for (size_t i = first + 1; i < act.size(); ++i) act[i].slot = cache.add_sequence();
      continue;
    }
    models::Batch b;
    for (size_t t = 0; t < r.prompt.size(); ++t)
      b.add(r.prompt[t], static_cast<int32_t>(t), slot, t + 1 == r.prompt.size());
    double t0 = now_seconds();
    Tensor logits = model_.forward(b, cache);
    stats_.prefill_seconds += now_seconds() - t0;
    stats_.prefill_tokens += static_cast<int64_t>(r.prompt.size());
    for (size_t i = first; i < act.size(); ++i) {
      if (act[i].slot < 0) act[i].slot = cache.fork_sequence(slot);
      accept(i, logits.ptr<float>());
    }
  }

  // Decode all unfinished sequences together.
  for (;;) {
    if (cancel && cancel->load()) {
      for (auto& a : act) a.builder.finish("cancelled");
      break;
    }
    models::Batch b;
    std::vector<size_t> who;
    for (size_t i = 0; i < act.size(); ++i) {
      if (act[i].builder.done()) continue;
      b.add(act[i].next, static_cast<int32_t>(cache.length(act[i].slot)), act[i].slot, true);
      who.push_back(i);
    }
    if (who.empty()) break;
    double t0 = now_seconds();
    Tensor logits = model_.forward(b, cache);
    stats_.decode_seconds += now_seconds() - t0;
    stats_.decode_tokens += static_cast<int64_t>(who.size());
    for (size_t k = 0; k < who.size(); ++k) accept(who[k], logits.ptr<float>() + k * vocab);
  }
  std::vector<GenOutput> out;
  for (auto& a : act) {
    cache.free_sequence(a.slot);
    out.push_back(std::move(a.builder.out()));
  }
  return out;
}

}  // namespace r1::runtime
