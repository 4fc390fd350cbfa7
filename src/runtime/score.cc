#include "runtime/score.h"

#include <algorithm>

#include "core/error.h"
#include "ops/ops.h"

namespace r1::runtime {

std::vector<double> score_tokens(models::Model& model, const std::vector<int32_t>& ids,
                                 int64_t chunk) {
  R1_ASSERT(chunk > 0);
  const int64_t T = static_cast<int64_t>(ids.size()), V = model.config().vocab;
  models::KvCache cache = model.new_cache();
  int seq = cache.add_sequence();
  std::vector<double> lp;
  lp.reserve(T > 0 ? T - 1 : 0);
  for (int64_t s = 0; s < T; s += chunk) {
    const int64_t e = std::min(T, s + chunk);
    models::Batch b;
    for (int64_t t = s; t < e; ++t)
      b.add(ids[t], static_cast<int32_t>(t), seq, t + 1 < T);  // the last token predicts nothing
    Tensor logits = model.forward(b, cache);
    ops::log_softmax_(logits);
    for (int64_t k = 0; k < logits.dim(0); ++k)
      lp.push_back(logits.ptr<float>()[k * V + ids[s + k + 1]]);
  }
  return lp;
}

}  // namespace r1::runtime
