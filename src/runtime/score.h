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

}  // namespace r1::runtime
