// The policy-gradient objective of GRPO and the variants people compare it with, as one op on
// per-token log-probabilities (ops::token_logprobs) with its exact gradient.
//
// For a step's completions o_i (i = 1..N, in groups of G sharing a prompt) with rewards r_i:
//   advantages (one per completion, group_advantages):
//     GRPO      A_i = (r_i - mean_g r) / (std_g r + 1e-4)   std with Bessel's correction (TRL)
//     Dr. GRPO  A_i = r_i - mean_g r
//     RLOO      A_i = r_i - mean_{j != i} r_j = G / (G - 1) (r_i - mean_g r)
//   per completion token t, with lp = log pi_theta (the forward being trained), old = log pi_old
//   (the policy that sampled), ref = log pi_ref:
//     ratio     rho_t = exp(lp_t - old_t); with a sequence-level ratio (GSPO, as TRL's
//               importance_sampling_level "sequence") rho_t = exp(mean_{t' in o_i}(lp - old))
//     surrogate J_t = min(rho_t A_i, clip(rho_t, 1 - eps_low, 1 + eps_high) A_i)
//     KL (k3)   D_t = exp(ref_t - lp_t) - (ref_t - lp_t) - 1                 (DeepSeekMath)
//     loss      l_t = -(J_t - beta D_t)
//   aggregation L = sum_i sum_t w_i l_t with per-token weights w_i (aggregation_weights):
//     sequence mean (GRPO)   w_i = 1 / (N |o_i|)
//     token mean (DAPO)      w_i = 1 / sum_j |o_j|
//     constant (Dr. GRPO)    w_i = 1 / (N L_max)
// The step's N, token count and L_max are the whole step's, so micro-batches of a step sum to the
// same loss and gradient as one batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace r1::train {

enum class Advantage { Grpo, DrGrpo, Rloo };
enum class Aggregation { SequenceMean, TokenMean, Constant };
Advantage parse_advantage(const std::string& name);      // grpo | drgrpo | rloo
Aggregation parse_aggregation(const std::string& name);  // seq-mean | token-mean | constant

// rewards.size() must be a multiple of group; each consecutive run of `group` is one prompt's.
std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group,
                                     Advantage kind);

// Per-token weights w_i of the completions with these lengths (see above); max_len is L_max.
std::vector<double> aggregation_weights(const std::vector<int64_t>& lengths, Aggregation kind,
                                        int64_t max_len);

struct PolicyLossConfig {
  double eps_low = 0.2, eps_high = 0.2;  // the trust region of the ratio
  double beta = 0;                       // k3 KL coefficient (0: no reference policy)
  bool sequence_ratio = false;           // GSPO
};

// One completion's tokens inside the packed lp tensor, and what its loss needs.
struct PolicySequence {
  int64_t begin = 0, length = 0;  // lp[begin .. begin + length) are its tokens
  double advantage = 0;
  double weight = 0;       // w_i
  std::vector<float> old;  // log pi_old per token (empty: lp itself, the exact on-policy case)
  std::vector<float> ref;  // log pi_ref per token (needed when beta > 0)
};

struct PolicyLossStats {
  double loss = 0;
  double clipped_tokens = 0;  // tokens whose gradient the clip removed
  double kl_sum = 0;          // sum of D_t over tokens
  double ratio_sum = 0;       // sum of rho_t over tokens
  int64_t tokens = 0;
};

// The loss above for these sequences (one element, f32), recorded on the tape when lp is tracked.
// stats (optional) accumulates the counts of this call.
Tensor policy_loss(const Tensor& lp, const std::vector<PolicySequence>& seqs,
                   const PolicyLossConfig& cfg, PolicyLossStats* stats = nullptr);

}  // namespace r1::train
