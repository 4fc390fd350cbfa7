// Speculative decoding with DeepSeek-V3's MTP layer as the draft model (one draft token per
// step, as vLLM's "mtp" method with num_speculative_tokens 1):
//   1. the MTP head proposes d for position n+1 from the main model's hidden state at n-1 and
//      the token at n;
//   2. the main model runs [t_n, d] in one forward pass;
//   3. d is accepted with probability min(1, p(d) / q(d)) (p: the main model's sampling
//      distribution after penalties, temperature and truncation; q: the same for the draft);
//      on rejection the token is drawn from normalize(max(0, p - q)) (Leviathan et al. 2023,
//      "Fast Inference from Transformers via Speculative Decoding"), so the output distribution
//      is exactly the main model's; greedy (temperature 0) output is identical to plain decoding;
//   4. when d is accepted, the main model's logits at n+1 give one more token for free.
// The MTP layer's own cache is kept complete: it runs at every accepted position.
#pragma once

#include <cstdint>

#include "models/deepseek_v3.h"
#include "runtime/request.h"

namespace r1::runtime {

struct SpeculativeStats {
  int64_t steps = 0;     // main-model forward passes after the prefill
  int64_t drafted = 0;   // draft tokens proposed
  int64_t accepted = 0;  // draft tokens accepted
  double seconds = 0;    // decode time
  double acceptance_rate() const { return drafted ? static_cast<double>(accepted) / drafted : 0; }
};

// The verification step: given the target distribution p, the draft distribution q and the
// draft token d drawn from q, returns the token to keep: d with probability min(1, p(d)/q(d)),
// else a draw from normalize(max(0, p - q)). Its output is distributed exactly as p.
int32_t verify_draft(const std::vector<TokenProb>& p, const std::vector<TokenProb>& q, int32_t d,
                     Sampler& sampler, bool* accepted);

GenOutput generate_mtp_speculative(models::DeepseekV3Model& model, const tok::Tokenizer* tokenizer,
                                   const std::vector<int32_t>& eos, const GenRequest& request,
                                   SpeculativeStats* stats, const TextCallback& on_text = {});

}  // namespace r1::runtime
