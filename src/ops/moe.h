// DeepSeekMoE routing (noaux_tc), docs/FACTS.md section 2 and DeepSeek-V3 inference/model.py Gate:
//   s = sigmoid(logits) (f32); b = s + e_score_correction_bias (selection only);
//   group score = sum of the top-2 b in each of n_group groups; keep the topk_group best groups
//   and mask the other experts to -inf; take the top_k experts by b;
//   weights = s of those experts, divided by their sum when norm_topk_prob, times
//   routed_scaling_factor.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/ops.h"

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
// Returns top_k choices per token, in descending order of biased score. The selection is a
// discrete choice: it records nothing (the weights' gradient comes from expert_weights).
std::vector<std::vector<ExpertChoice>> route_experts(const Tensor& logits, const Tensor& bias,
                                                     const MoeRouting& r);

// The routing weights of the chosen experts as a tensor [T, top_k], differentiable in the
// logits: w[t, k] = sigmoid(logits[t, e_k]) (/ sum_k' sigmoid(logits[t, e_k']) when
// norm_topk_prob) * routed_scaling_factor, e_k = choice[t][k].expert. Equal to the choices'
// weights bit for bit.
Tensor expert_weights(const Tensor& logits, const std::vector<std::vector<ExpertChoice>>& choice,
                      const MoeRouting& r);

// The tokens one expert runs on: rows of the [T, H] input, and for each the index into the
// flattened [T, top_k] weights (t * top_k + k).
struct ExpertRows {
  std::vector<int64_t> token;
  std::vector<int64_t> slot;
};
// Groups the choices by expert (each selected expert then runs once over all of its tokens).
std::vector<ExpertRows> expert_rows(const std::vector<std::vector<ExpertChoice>>& choice,
                                    int64_t n_experts);

// Inference (no tape) over the chosen experts' SwiGLU FFNs: outs[e] = down(silu(gate(x_e)) *
// up(x_e)) for x_e = the rows rows[e].token of h (undefined where an expert has none), with the
// products of every expert in two thread-pool loops (gate and up; then down) instead of three
// loops per expert: decode runs a few small products per expert, where the loops' hand-offs cost
// as much as the work.
struct ExpertFfn {
  const Weight* gate = nullptr;
  const Weight* up = nullptr;
  const Weight* down = nullptr;
};
std::vector<Tensor> expert_ffns(const Tensor& h, const std::vector<ExpertRows>& rows,
                                const std::vector<ExpertFfn>& experts);

// The MoE output: out = base + sum_e sum_i weights[rows[e].slot[i]] * outs[e][i] at row
// rows[e].token[i]. base: [T, H]; outs[e]: [rows[e].token.size(), H] (undefined when empty);
// weights: [T, top_k]. Backward to base, every expert output and the weights.
Tensor moe_combine(const Tensor& base, const std::vector<Tensor>& outs,
                   const std::vector<ExpertRows>& rows, const Tensor& weights);

}  // namespace r1::ops
