#include "train/policy_loss.h"

#include <cmath>

#include "core/error.h"
#include "ops/tape.h"

namespace r1::train {

Advantage parse_advantage(const std::string& name) {
  if (name == "grpo") return Advantage::Grpo;
  if (name == "drgrpo") return Advantage::DrGrpo;
  if (name == "rloo") return Advantage::Rloo;
  fail_usage("--advantage must be grpo, drgrpo or rloo, not \"", name, "\"");
}

Aggregation parse_aggregation(const std::string& name) {
  if (name == "seq-mean") return Aggregation::SequenceMean;
  if (name == "token-mean") return Aggregation::TokenMean;
  if (name == "constant") return Aggregation::Constant;
  fail_usage("--loss-agg must be seq-mean, token-mean or constant, not \"", name, "\"");
}

std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group,
                                     Advantage kind) {
  R1_ASSERT(group >= 1 && rewards.size() % static_cast<size_t>(group) == 0);
  if (kind == Advantage::Rloo && group < 2) fail_usage("RLOO needs --group of at least 2");
  std::vector<double> adv(rewards.size());
  const size_t G = static_cast<size_t>(group);
  for (size_t g0 = 0; g0 < rewards.size(); g0 += G) {
    double mean = 0;
    for (size_t i = 0; i < G; ++i) mean += rewards[g0 + i];
    mean /= static_cast<double>(G);
    double var = 0;
    for (size_t i = 0; i < G; ++i) var += (rewards[g0 + i] - mean) * (rewards[g0 + i] - mean);
    const double sd = G > 1 ? std::sqrt(var / static_cast<double>(G - 1)) : 0.0;
    for (size_t i = 0; i < G; ++i) {
      const double d = rewards[g0 + i] - mean;
      adv[g0 + i] = kind == Advantage::Grpo ? d / (sd + 1e-4)
                    : kind == Advantage::DrGrpo
                        ? d
                        : d * static_cast<double>(G) / static_cast<double>(G - 1);
    }
  }
  return adv;
}

std::vector<double> aggregation_weights(const std::vector<int64_t>& lengths, Aggregation kind,
                                        int64_t max_len) {
  const double n = static_cast<double>(lengths.size());
  int64_t tokens = 0;
  for (int64_t l : lengths) tokens += l;
  std::vector<double> w(lengths.size(), 0.0);
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] == 0) continue;
    w[i] = kind == Aggregation::SequenceMean ? 1.0 / (n * static_cast<double>(lengths[i]))
           : kind == Aggregation::TokenMean  ? 1.0 / static_cast<double>(tokens)
                                             : 1.0 / (n * static_cast<double>(max_len));
  }
  return w;
}

Tensor policy_loss(const Tensor& lp, const std::vector<PolicySequence>& seqs,
                   const PolicyLossConfig& cfg, PolicyLossStats* stats) {
  const int64_t T = lp.numel();
  const float* x = lp.ptr<float>();
  ops::Tape* tp = ops::recording({&lp});
  Tensor grad = tp ? Tensor::zeros(DType::F32, {T}) : Tensor();  // dL/dlp
  double loss = 0;
  PolicyLossStats st;
  for (const PolicySequence& s : seqs) {
    if (s.length == 0) continue;
    if (s.begin < 0 || s.begin + s.length > T ||
        (!s.old.empty() && s.old.size() != size_t(s.length)) ||
        (cfg.beta > 0 && s.ref.size() != static_cast<size_t>(s.length)))
      fail_internal("policy_loss: a sequence at ", s.begin, " of ", s.length,
                    " tokens does not match its log-probabilities");
    auto old = [&](int64_t t) { return s.old.empty() ? x[s.begin + t] : s.old[t]; };
    double mean_log_ratio = 0;
    for (int64_t t = 0; t < s.length; ++t) mean_log_ratio += x[s.begin + t] - old(t);
    mean_log_ratio /= static_cast<double>(s.length);
    const double A = s.advantage;
    double seq_grad = 0;  // GSPO: dL/d(mean log-ratio) of the sequence
    for (int64_t t = 0; t < s.length; ++t) {
      const double l = x[s.begin + t];
      const double rho = std::exp(cfg.sequence_ratio ? mean_log_ratio : l - old(t));
      const double clipped_rho = std::min(std::max(rho, 1 - cfg.eps_low), 1 + cfg.eps_high);
      const double J = std::min(rho * A, clipped_rho * A);
      const bool binding = (A > 0 && rho > 1 + cfg.eps_high) || (A < 0 && rho < 1 - cfg.eps_low);
      double kl = 0, dkl = 0;
      if (cfg.beta > 0) {
        const double d = s.ref[t] - l;
        kl = std::exp(d) - d - 1;
        dkl = 1 - std::exp(d);
      }
      loss += s.weight * (-J + cfg.beta * kl);
      const double dJ_drho = binding ? 0.0 : A;
      if (tp) {
        if (cfg.sequence_ratio)
          seq_grad += s.weight * -dJ_drho * rho;
        else
          grad.ptr<float>()[s.begin + t] += static_cast<float>(s.weight * -dJ_drho * rho);
        grad.ptr<float>()[s.begin + t] += static_cast<float>(s.weight * cfg.beta * dkl);
      }
      st.clipped_tokens += binding;
      st.kl_sum += kl;
      st.ratio_sum += rho;
      ++st.tokens;
    }
    if (tp && cfg.sequence_ratio)
      for (int64_t t = 0; t < s.length; ++t)
        grad.ptr<float>()[s.begin + t] += static_cast<float>(seq_grad / s.length);
  }
  st.loss = loss;
  if (stats) {
    stats->loss += st.loss;
    stats->clipped_tokens += st.clipped_tokens;
    stats->kl_sum += st.kl_sum;
    stats->ratio_sum += st.ratio_sum;
    stats->tokens += st.tokens;
  }
  Tensor out = Tensor::zeros(DType::F32, {1});
  out.ptr<float>()[0] = static_cast<float>(loss);
  if (tp) {
    tp->record(out, {lp, grad}, [lp, grad, out](ops::Tape& t) {
      const Tensor* g = t.find_grad(out);
      if (!g) return;
      ops::NoGrad off;
      Tensor& dst = t.grad(lp);
      const float s = g->ptr<float>()[0];
      for (int64_t i = 0; i < lp.numel(); ++i) dst.ptr<float>()[i] += s * grad.ptr<float>()[i];
    });
  }
  return out;
}

}  // namespace r1::train
