// DeepSeekMoE routing (noaux_tc), FACTS.md section 2 and DeepSeek-V3 inference/model.py Gate:
//   s = sigmoid(logits) (f32); b = s + e_score_correction_bias (selection only);
//   group score = sum of the top-2 b in each of n_group groups; keep the topk_group best groups
//   and mask the other experts to -inf; take the top_k experts by b;
//   weights = s of those experts, divided by their sum when norm_topk_prob, times
//   routed_scaling_factor.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace r1::ops {

struct MoeRouting {
  int64_t n_group = 1, topk_group = 1, top_k = 1;
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.0f;
};

struct ExpertChoice {
  int32_t expert;
  float weight;
};

// logits: [T, n_experts] router logits (x . gate^T, f32); bias: [n_experts] f32 (or undefined).
// Returns top_k choices per token, in descending order of biased score.
std::vector<std::vector<ExpertChoice>> route_experts(const Tensor& logits, const Tensor& bias,
                                                     const MoeRouting& r);

}  // namespace r1::ops
