#include "runtime/score.h"

#include <algorithm>

#include "core/error.h"
#include "models/deepseek_v3.h"
#include "ops/ops.h"

namespace r1::runtime {

namespace {

// The chunked teacher-forced pass behind both entry points; mtp (may be null) adds the MTP head.
MtpScores score_chunks(models::Model& model, const std::vector<int32_t>& ids, int64_t chunk,
                       models::DeepseekV3Model* mtp) {
  R1_ASSERT(chunk > 0);
  const int64_t T = static_cast<int64_t>(ids.size()), V = model.config().vocab;
  models::KvCache cache = model.new_cache();
  const int seq = cache.add_sequence();
  MtpScores out;
  out.logprobs.reserve(T > 0 ? T - 1 : 0);
  for (int64_t s = 0; s < T; s += chunk) {
    const int64_t e = std::min(T, s + chunk);
    models::Batch b;
    for (int64_t t = s; t < e; ++t)
      b.add(ids[t], static_cast<int32_t>(t), seq, t + 1 < T);  // the last token predicts nothing
    Tensor hidden;
    Tensor logits = mtp ? mtp->forward_hidden(b, cache, &hidden) : model.forward(b, cache);
    ops::log_softmax_(logits);
    for (int64_t k = 0; k < logits.dim(0); ++k)
      out.logprobs.push_back(logits.ptr<float>()[k * V + ids[s + k + 1]]);
    if (!mtp) continue;
    // MTP positions j in [s, min(e, T-1)): hidden at j with the token at j+1.
    std::vector<int64_t> rows;
    std::vector<int32_t> next, pos, seqs;
    for (int64_t j = s; j < std::min(e, T - 1); ++j) {
      rows.push_back(j - s);
      next.push_back(ids[j + 1]);
      pos.push_back(static_cast<int32_t>(j));
      seqs.push_back(seq);
    }
    if (rows.empty()) continue;
    Tensor m = mtp->mtp_forward(ops::gather_rows(hidden, rows), next, pos, seqs, cache);
    ops::log_softmax_(m);
    for (size_t k = 0; k < rows.size(); ++k) {
      const int64_t j = pos[k];
      if (j + 2 < T) out.mtp_logprobs.push_back(m.ptr<float>()[k * V + ids[j + 2]]);
    }
  }
  return out;
}

}  // namespace

std::vector<double> score_tokens(models::Model& model, const std::vector<int32_t>& ids,
                                 int64_t chunk) {
  return score_chunks(model, ids, chunk, nullptr).logprobs;
}

MtpScores score_tokens_mtp(models::Model& model, const std::vector<int32_t>& ids, int64_t chunk) {
  auto* ds = dynamic_cast<models::DeepseekV3Model*>(&model);
  if (!ds || !ds->has_mtp()) fail_usage("--mtp needs a DeepSeek-V3 checkpoint with an MTP layer");
  return score_chunks(model, ids, chunk, ds);
}

}  // namespace r1::runtime
