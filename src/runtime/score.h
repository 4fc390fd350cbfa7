// Teacher-forced scoring: the log-probability of each token of a sequence given the ones
// before it, computed in chunks through the KV cache so that memory stays bounded by
// chunk * vocab floats however long the sequence is.
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"

namespace r1::runtime {

// Returns ids.size() - 1 values: log p(ids[j+1] | ids[0..j]).
std::vector<double> score_tokens(models::Model& model, const std::vector<int32_t>& ids,
                                 int64_t chunk = 256);

struct MtpScores {
  std::vector<double> logprobs;      // as score_tokens
  std::vector<double> mtp_logprobs;  // [j] = log p_mtp(ids[j+2] | ids[0..j+1]), j < size - 2
};
// The main model's and the MTP head's log-probabilities in one pass (DeepSeek-V3 checkpoints
// with an MTP layer; Usage error otherwise). The MTP head at position j reads the main model's
// final-normed hidden state at j and the embedding of ids[j+1], and predicts ids[j+2].
MtpScores score_tokens_mtp(models::Model& model, const std::vector<int32_t>& ids,
                           int64_t chunk = 256);

}  // namespace r1::runtime
