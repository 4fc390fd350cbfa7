// AdamW with decoupled weight decay and bias correction (torch.optim.AdamW's update, written out
// in tools/reference/train_reference.py), a warmup + cosine learning-rate schedule, and global
// gradient-norm clipping (torch.nn.utils.clip_grad_norm_).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace r1::train {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // applied to tensors of 2 or more dimensions only
};

// lr for update s (0-based): lr_max (s + 1) / warmup while s < warmup; then a cosine decay to
// lr_max * r (r = min_lr_ratio): p = (s - warmup) / max(1, total - warmup),
// lr = lr_max (r + (1 - r) (1 + cos(pi min(p, 1))) / 2).
struct Schedule {
  double lr_max = 1e-3;
  int64_t warmup = 0, total = 1;
  double min_lr_ratio = 0.1;
  double lr_at(int64_t step) const;
};

// Scales the gradients so their global L2 norm is at most max_norm (when max_norm > 0) by
// max_norm / (norm + 1e-6), as torch does. Returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm);

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWConfig cfg);
  // One update of every parameter with its gradient (same order as the parameters).
  void step(const std::vector<Tensor>& grads, double lr);
  int64_t steps_done() const { return t_; }

  // State for checkpoints: "exp_avg.<name>" and "exp_avg_sq.<name>" tensors, and the step count.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  void set_steps_done(int64_t t) { t_ = t; }

 private:
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<Tensor> m_, v_;
  AdamWConfig cfg_;
  int64_t t_ = 0;
};

}  // namespace r1::train
