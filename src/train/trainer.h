// One training step of a model: packed micro-batches through the shared model definition under a
// tape, the masked next-token loss, accumulated gradients, clipping and an AdamW update. The
// contract (loss normalization, accumulation, what is trained) is the one
// tools/reference/train_reference.py writes down, and the parity tests hold it to PyTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/model.h"
#include "ops/tape.h"
#include "train/optimizer.h"
#include "train/policy_loss.h"

namespace r1::train {

// A training sequence: ids, and for each target position i (predicting ids[i + 1]) whether it
// counts in the loss. mask.size() == ids.size() - 1.
struct Example {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
  int64_t targets() const;  // number of mask == 1
};

// A sampled completion for a policy-gradient step: prompt + completion ids; the completion's
// tokens ids[prompt_len..] are the targets.
struct PolicyExample {
  std::vector<int32_t> ids;
  int64_t prompt_len = 0;
  double advantage = 0;
  double weight = 0;       // per-token aggregation weight (policy_loss.h)
  std::vector<float> old;  // log pi_old of each completion token (empty: on-policy)
  std::vector<float> ref;  // log pi_ref of each completion token (when beta > 0)
  int64_t completion_len() const { return static_cast<int64_t>(ids.size()) - prompt_len; }
};

struct PolicyStepStats {
  PolicyLossStats loss;
  double entropy_sum = 0;  // sum over completion tokens of the sampling distribution's entropy
  double grad_norm = 0, lr = 0;
  int64_t tokens = 0;  // tokens run through the model
};

struct StepStats {
  double loss = 0;       // mean masked NLL over the step's targets
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;   // tokens run through the model
  int64_t targets = 0;  // tokens counted in the loss
};

struct TrainerConfig {
  AdamWConfig adam;
  Schedule schedule;
  double clip_norm = 1.0;  // 0: no clipping
};

class Trainer {
 public:
  // The model must have been made trainable (LoadOptions::trainable).
  Trainer(models::Model& model, TrainerConfig cfg);
  // Trains only `params` (contiguous f32, used by the model's forward: e.g. LoRA adapters on a
  // frozen model); everything else stays as it is.
  Trainer(models::Model& model, TrainerConfig cfg,
          std::vector<std::pair<std::string, Tensor>> params);

  // One optimizer update from the micro-batches (gradient accumulation: each is one forward and
  // backward; the loss of every micro-batch is divided by the step's total target count).
  StepStats step(const std::vector<std::vector<const Example*>>& micro_batches);
  // Only the loss and gradients (no update); gradients are left in grads().
  StepStats forward_backward(const std::vector<std::vector<const Example*>>& micro_batches);
  // The policy-gradient loss (policy_loss.h) of the micro-batches' completions, with log-probs
  // of softmax(logits / temperature); gradients are left in grads() (no update).
  PolicyStepStats policy_forward_backward(
      const std::vector<std::vector<const PolicyExample*>>& micro_batches,
      const PolicyLossConfig& cfg, float temperature);
  // Clips the gradients in grads() and takes one AdamW step; returns {grad norm, lr}.
  std::pair<double, double> update();
  // log pi of each completion token (no gradients), in micro-batches of at most max_batch_tokens.
  std::vector<std::vector<float>> completion_logprobs(const std::vector<const PolicyExample*>& ex,
                                                      float temperature, int64_t max_batch_tokens);
  // Mean masked NLL without gradients. Returns {loss, targets}.
  std::pair<double, int64_t> eval_loss(const std::vector<const Example*>& examples,
                                       int64_t max_batch_tokens);

  const std::vector<std::pair<std::string, Tensor>>& params() const { return params_; }
  const std::vector<Tensor>& grads() const { return grads_; }
  AdamW& optimizer() { return adam_; }
  int64_t step_index() const { return adam_.steps_done(); }
  const TrainerConfig& config() const { return cfg_; }

 private:
  // Packs examples into one batch; targets[t] = next id where counted, else -1.
  static models::Batch pack(const std::vector<const Example*>& ex, std::vector<int32_t>* targets);

  models::Model& model_;
  TrainerConfig cfg_;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<Tensor> grads_;
  AdamW adam_;
  ops::Tape tape_;
};

}  // namespace r1::train
