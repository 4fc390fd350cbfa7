#include "runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/error.h"

namespace r1::runtime {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

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
                     std::vector<int32_t> eos_ids)
    : model_(model), tok_(tokenizer), eos_(std::move(eos_ids)) {}

std::vector<GenOutput> Generator::run(
    const std::vector<GenRequest>& reqs,
    const std::function<void(size_t, const std::string&)>& on_text,
    const std::atomic<bool>* cancel) {
  struct Active {
    int slot;
    Sampler sampler;
    std::unique_ptr<tok::StreamDecoder> decoder;
    size_t emitted = 0;  // bytes of out.text already passed to on_text
    int32_t next = -1;   // token sampled but not yet fed to the model
    bool done = false;
  };
  const int64_t vocab = model_.config().vocab;
  models::KvCache cache = model_.new_cache();
  std::vector<GenOutput> out(reqs.size());
  std::vector<Active> act;
  act.reserve(reqs.size());

  // Appends one sampled token to sequence i; returns false when the sequence has finished.
  auto accept = [&](size_t i, int32_t token) {
    Active& a = act[i];
    GenOutput& o = out[i];
    const GenRequest& r = reqs[i];
    if (std::find(eos_.begin(), eos_.end(), token) != eos_.end()) {
      o.finish_reason = "stop";
    } else {
      o.tokens.push_back(token);
      if (a.decoder) o.text += a.decoder->push(token);
      if (!r.stop.empty()) {
        size_t cut = std::string::npos;
        for (const auto& s : r.stop) cut = std::min(cut, o.text.find(s));
        if (cut != std::string::npos) {
          o.text.resize(cut);
          o.finish_reason = "stop";
          a.decoder.reset();  // the text is final; nothing held back may follow the cut
        }
      }
      if (o.finish_reason.empty() && static_cast<int64_t>(o.tokens.size()) >= r.max_tokens)
        o.finish_reason = "length";
    }
    if (!o.finish_reason.empty() && a.decoder) o.text += a.decoder->flush();
    if (on_text && a.emitted < o.text.size()) {
      size_t safe =
          o.finish_reason.empty() ? o.text.size() - stop_holdback(o.text, r.stop) : o.text.size();
      if (safe > a.emitted) {
        on_text(i, o.text.substr(a.emitted, safe - a.emitted));
        a.emitted = safe;
      }
    }
    a.next = token;
    a.done = !o.finish_reason.empty();
    return !a.done;
  };

  // Prefill each prompt on its own (one sequence, many tokens: the matrix-matrix path).
  for (size_t i = 0; i < reqs.size(); ++i) {
    const GenRequest& r = reqs[i];
    r.sampling.validate();
    if (r.prompt.empty()) fail_input("request ", i, ": empty prompt");
    if (!r.stop.empty() && !tok_) fail_usage("stop strings need a tokenizer");
    act.push_back({cache.add_sequence(), Sampler(r.sampling), nullptr});
    if (tok_) act.back().decoder = std::make_unique<tok::StreamDecoder>(*tok_, false);
    out[i].prompt_tokens = static_cast<int64_t>(r.prompt.size());
    if (r.max_tokens <= 0) {
      out[i].finish_reason = "length";
      act.back().done = true;
      continue;
    }
    models::Batch b;
    for (size_t t = 0; t < r.prompt.size(); ++t)
      b.add(r.prompt[t], static_cast<int32_t>(t), act.back().slot, t + 1 == r.prompt.size());
    double t0 = now_seconds();
    Tensor logits = model_.forward(b, cache);
    stats_.prefill_seconds += now_seconds() - t0;
    stats_.prefill_tokens += static_cast<int64_t>(r.prompt.size());
    accept(i, act[i].sampler.sample(logits.ptr<float>(), vocab, r.prompt, out[i].tokens));
  }

  // Decode all unfinished sequences together.
  for (;;) {
    if (cancel && cancel->load()) {
      for (size_t i = 0; i < act.size(); ++i)
        if (!act[i].done) {
          act[i].done = true;
          out[i].finish_reason = "cancelled";
        }
      break;
    }
    models::Batch b;
    std::vector<size_t> who;
    for (size_t i = 0; i < act.size(); ++i) {
      if (act[i].done) continue;
      b.add(act[i].next, static_cast<int32_t>(cache.length(act[i].slot)), act[i].slot, true);
      who.push_back(i);
    }
    if (who.empty()) break;
    double t0 = now_seconds();
    Tensor logits = model_.forward(b, cache);
    stats_.decode_seconds += now_seconds() - t0;
    stats_.decode_tokens += static_cast<int64_t>(who.size());
    for (size_t k = 0; k < who.size(); ++k) {
      size_t i = who[k];
      accept(i, act[i].sampler.sample(logits.ptr<float>() + k * vocab, vocab, reqs[i].prompt,
                                      out[i].tokens));
    }
  }
  for (auto& a : act) cache.free_sequence(a.slot);
  return out;
}

}  // namespace r1::runtime
