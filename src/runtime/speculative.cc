#include "runtime/speculative.h"

#include <chrono>
#include <unordered_map>

#include "core/error.h"
#include "ops/ops.h"

namespace r1::runtime {

namespace {

double prob_of(const std::vector<TokenProb>& d, int32_t id) {
  for (const auto& t : d)
    if (t.id == id) return t.p;
  return 0;
}

// normalize(max(0, p - q)); falls back to p when the difference vanishes (p == q).
std::vector<TokenProb> residual(const std::vector<TokenProb>& p, const std::vector<TokenProb>& q) {
  std::unordered_map<int32_t, double> qm;
  for (const auto& t : q) qm[t.id] = t.p;
  std::vector<TokenProb> r;
  double sum = 0;
  for (const auto& t : p) {
    double v = t.p - (qm.count(t.id) ? qm[t.id] : 0.0);
    if (v > 0) {
      r.push_back({t.id, v});
      sum += v;
    }
  }
  if (sum <= 0) return p;
  for (auto& t : r) t.p /= sum;
  return r;
}

Tensor row(const Tensor& x, int64_t i) {
  return ops::gather_rows(x, {i});
}

}  // namespace

int32_t verify_draft(const std::vector<TokenProb>& p, const std::vector<TokenProb>& q, int32_t d,
                     Sampler& sampler, bool* accepted) {
  const double pd = prob_of(p, d), qd = prob_of(q, d);
  *accepted = qd > 0 && sampler.uniform() < std::min(1.0, pd / qd);
  return *accepted ? d : sampler.draw(residual(p, q));
}

GenOutput generate_mtp_speculative(models::DeepseekV3Model& model, const tok::Tokenizer* tokenizer,
                                   const std::vector<int32_t>& eos, const GenRequest& r,
                                   SpeculativeStats* stats, const TextCallback& on_text) {
  if (!model.has_mtp()) fail_usage("--speculative mtp needs a checkpoint with an MTP layer");
  r.sampling.validate();
  if (r.prompt.empty()) fail_input("empty prompt");
  if (!r.stop.empty() && !tokenizer) fail_usage("stop strings need a tokenizer");
  const int64_t V = model.config().vocab;
  const int64_t n0 = static_cast<int64_t>(r.prompt.size());
  models::KvCache cache = model.new_cache();
  const int seq = cache.add_sequence();
  OutputBuilder builder(r, tokenizer, &eos, 0, &on_text, cache.max_positions());
  if (builder.done()) return builder.out();
  Sampler main_s(r.sampling);
  SamplingParams dp = r.sampling;
  dp.seed = r.sampling.seed ^ 0x5bd1e9955bd1e995ull;  // the draft's own random stream
  Sampler draft_s(dp);
  const std::vector<int32_t>& out = builder.out().tokens;

  // Prefill: hidden states of the whole prompt, the first token from the last logits.
  models::Batch b;
  for (int64_t t = 0; t < n0; ++t) b.add(r.prompt[t], static_cast<int32_t>(t), seq, t + 1 == n0);
  Tensor hidden;
  Tensor logits = model.forward_hidden(b, cache, &hidden);
  int32_t t_n = main_s.sample(logits.ptr<float>(), V, r.prompt, out);
  if (!builder.push(t_n)) return builder.out();
  // MTP over the prompt: position j pairs hidden j with the token at j + 1 (the last one with the
  // sampled token); its last row is the draft distribution for position n0 + 1.
  std::vector<int32_t> next, pos, seqs(n0, seq);
  for (int64_t j = 0; j < n0; ++j) {
    next.push_back(j + 1 < n0 ? r.prompt[j + 1] : t_n);
    pos.push_back(static_cast<int32_t>(j));
  }
  Tensor mtp = model.mtp_forward(hidden, next, pos, seqs, cache);
  Tensor draft_logits = row(mtp, n0 - 1);
  int64_t n = n0;  // position of t_n, sampled but not yet run through the main model

  auto t_start = std::chrono::steady_clock::now();
  while (!builder.done()) {
    std::vector<TokenProb> q = draft_s.distribution(draft_logits.ptr<float>(), V, r.prompt, out);
    const int32_t d = draft_s.draw(q);
    // The main model on [t_n, d]: logits for positions n (-> n+1) and n+1 (-> n+2).
    models::Batch v;
    v.add(t_n, static_cast<int32_t>(n), seq, true);
    v.add(d, static_cast<int32_t>(n + 1), seq, true);
    Tensor h2;
    Tensor l2 = model.forward_hidden(v, cache, &h2);
    ++stats->steps;
    ++stats->drafted;
    std::vector<TokenProb> p = main_s.distribution(l2.ptr<float>(), V, r.prompt, out);
    bool accept = false;
    const int32_t t1 = verify_draft(p, q, d, main_s, &accept);
    if (!accept) {
      cache.set_length(seq, n + 1);  // forget d's entry at n + 1
      if (!builder.push(t1)) break;
      Tensor m = model.mtp_forward(row(h2, 0), {t1}, {static_cast<int32_t>(n)}, {seq}, cache);
      draft_logits = m;
      t_n = t1;
      n += 1;
      continue;
    }
    ++stats->accepted;
    if (!builder.push(d)) break;
    // A bonus token from the main model's logits at n + 1.
    const int32_t t2 = main_s.sample(l2.ptr<float>() + V, V, r.prompt, out);
    if (!builder.push(t2)) break;
    Tensor m = model.mtp_forward(
        h2, {d, t2}, {static_cast<int32_t>(n), static_cast<int32_t>(n + 1)}, {seq, seq}, cache);
    draft_logits = row(m, 1);
    t_n = t2;
    n += 2;
  }
  stats->seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return builder.out();
}

}  // namespace r1::runtime
