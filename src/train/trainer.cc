#include "train/trainer.h"

#include <malloc.h>

#include <cstring>
#include <tuple>

#include "core/error.h"
#include "ops/ops.h"

namespace r1::train {

int64_t Example::targets() const {
  int64_t n = 0;
  for (uint8_t m : mask) n += m != 0;
  return n;
}

Trainer::Trainer(models::Model& model, TrainerConfig cfg)
    : Trainer(model, cfg, model.parameters()) {}

Trainer::Trainer(models::Model& model, TrainerConfig cfg,
                 std::vector<std::pair<std::string, Tensor>> params)
    : model_(model), cfg_(cfg), params_(std::move(params)), adam_(params_, cfg.adam) {
  // Every step allocates and frees the same activation buffers: keep freed blocks of up to
  // 32 MiB (glibc's largest mmap threshold) in the heap instead of returning them to the system,
  // so they are not page-faulted in again each step. A hint: failure is harmless.
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
  for (const auto& [name, p] : params_) {
    grads_.push_back(Tensor::zeros(DType::F32, p.shape));
    tape_.watch(p, grads_.back());
  }
}

models::Batch Trainer::pack(const std::vector<const Example*>& ex, std::vector<int32_t>* targets) {
  models::Batch b;
  targets->clear();
  for (size_t s = 0; s < ex.size(); ++s) {
    const Example& e = *ex[s];
    if (e.ids.size() < 2 || e.mask.size() + 1 != e.ids.size())
      fail_internal("training example with ", e.ids.size(), " ids and ", e.mask.size(),
                    " mask entries");
    for (size_t i = 0; i < e.ids.size(); ++i) {
      b.add(e.ids[i], static_cast<int32_t>(i), static_cast<int32_t>(s), false);
      targets->push_back(i + 1 < e.ids.size() && e.mask[i] ? e.ids[i + 1] : -1);
    }
  }
  return b;
}

StepStats Trainer::forward_backward(const std::vector<std::vector<const Example*>>& micro) {
  StepStats st;
  for (const auto& mb : micro)
    for (const Example* e : mb) st.targets += e->targets();
  if (st.targets == 0) fail_input("a training step has no target tokens (every mask is 0)");
  for (Tensor& g : grads_) std::memset(g.data, 0, g.nbytes());
  const float scale = 1.0f / static_cast<float>(st.targets);
  Tensor out_emb = model_.output_embedding();
  for (const auto& mb : micro) {
    std::vector<int32_t> targets;
    models::Batch b = pack(mb, &targets);
    st.tokens += static_cast<int64_t>(b.tokens.size());
    ops::TapeScope scope(tape_);
    Tensor h = model_.final_hidden(b);
    Tensor loss = ops::cross_entropy(h, out_emb, targets, scale);
    st.loss += loss.ptr<float>()[0];
    tape_.backward(loss);
  }
  return st;
}

StepStats Trainer::step(const std::vector<std::vector<const Example*>>& micro) {
  StepStats st = forward_backward(micro);
  std::tie(st.grad_norm, st.lr) = update();
  return st;
}

std::pair<double, double> Trainer::update() {
  const double norm = clip_grad_norm(grads_, cfg_.clip_norm);
  const double lr = cfg_.schedule.lr_at(adam_.steps_done());
  adam_.step(grads_, lr);
  return {norm, lr};
}

namespace {

// Packs completions into one batch: targets are the completion tokens (from position
// prompt_len - 1 on), -1 elsewhere; starts[i] is where sequence i's first target sits.
models::Batch pack_policy(const std::vector<const PolicyExample*>& ex,
                          std::vector<int32_t>* targets, std::vector<int64_t>* starts) {
  models::Batch b;
  targets->clear();
  starts->clear();
  for (size_t s = 0; s < ex.size(); ++s) {
    const PolicyExample& e = *ex[s];
    if (e.prompt_len < 1 || e.completion_len() < 1)
      fail_internal("policy example with ", e.ids.size(), " ids and a prompt of ", e.prompt_len);
    starts->push_back(static_cast<int64_t>(targets->size()) + e.prompt_len - 1);
    for (size_t i = 0; i < e.ids.size(); ++i) {
      b.add(e.ids[i], static_cast<int32_t>(i), static_cast<int32_t>(s), false);
      const bool target = static_cast<int64_t>(i) + 1 >= e.prompt_len && i + 1 < e.ids.size();
      targets->push_back(target ? e.ids[i + 1] : -1);
    }
  }
  return b;
}

}  // namespace

PolicyStepStats Trainer::policy_forward_backward(
    const std::vector<std::vector<const PolicyExample*>>& micro, const PolicyLossConfig& cfg,
    float temperature) {
  PolicyStepStats st;
  for (Tensor& g : grads_) std::memset(g.data, 0, g.nbytes());
  Tensor out_emb = model_.output_embedding();
  for (const auto& mb : micro) {
    std::vector<int32_t> targets;
    std::vector<int64_t> starts;
    models::Batch b = pack_policy(mb, &targets, &starts);
    st.tokens += static_cast<int64_t>(b.tokens.size());
    std::vector<PolicySequence> seqs;
    for (size_t s = 0; s < mb.size(); ++s)
      seqs.push_back({starts[s], mb[s]->completion_len(), mb[s]->advantage, mb[s]->weight,
                      mb[s]->old, mb[s]->ref});
    ops::TapeScope scope(tape_);
    Tensor h = model_.final_hidden(b);
    std::vector<float> entropy;
    Tensor lp = ops::token_logprobs(h, out_emb, targets, temperature, &entropy);
    Tensor loss = policy_loss(lp, seqs, cfg, &st.loss);
    for (size_t t = 0; t < targets.size(); ++t)
      if (targets[t] >= 0) st.entropy_sum += entropy[t];
    tape_.backward(loss);
  }
  return st;
}

std::vector<std::vector<float>> Trainer::completion_logprobs(
    const std::vector<const PolicyExample*>& ex, float temperature, int64_t max_batch_tokens) {
  std::vector<std::vector<float>> out;
  Tensor out_emb = model_.output_embedding();
  for (size_t i = 0; i < ex.size();) {
    std::vector<const PolicyExample*> mb;
    int64_t tokens = 0;
    while (i < ex.size() &&
           (mb.empty() || tokens + static_cast<int64_t>(ex[i]->ids.size()) <= max_batch_tokens)) {
      tokens += static_cast<int64_t>(ex[i]->ids.size());
      mb.push_back(ex[i++]);
    }
    std::vector<int32_t> targets;
    std::vector<int64_t> starts;
    models::Batch b = pack_policy(mb, &targets, &starts);
    Tensor lp = ops::token_logprobs(model_.final_hidden(b), out_emb, targets, temperature);
    for (size_t s = 0; s < mb.size(); ++s)
      out.emplace_back(lp.ptr<float>() + starts[s],
                       lp.ptr<float>() + starts[s] + mb[s]->completion_len());
  }
  return out;
}

std::pair<double, int64_t> Trainer::eval_loss(const std::vector<const Example*>& examples,
                                              int64_t max_batch_tokens) {
  double total = 0;
  int64_t n = 0;
  for (size_t i = 0; i < examples.size();) {
    std::vector<const Example*> mb;
    int64_t tokens = 0;
    while (i < examples.size() &&
           (mb.empty() ||
            tokens + static_cast<int64_t>(examples[i]->ids.size()) <= max_batch_tokens)) {
      tokens += static_cast<int64_t>(examples[i]->ids.size());
      mb.push_back(examples[i++]);
    }
    std::vector<int32_t> targets;
    models::Batch b = pack(mb, &targets);
    for (int32_t t : targets) n += t >= 0;
    Tensor loss =
        ops::cross_entropy(model_.final_hidden(b), model_.output_embedding(), targets, 1.0f);
    total += loss.ptr<float>()[0];
  }
  return {n ? total / static_cast<double>(n) : 0.0, n};
}

}  // namespace r1::train
