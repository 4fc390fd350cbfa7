#include "train/optimizer.h"

#include <cmath>

#include "core/error.h"
#include "core/threads.h"

namespace r1::train {

double Schedule::lr_at(int64_t s) const {
  if (s < warmup) return lr_max * static_cast<double>(s + 1) / static_cast<double>(warmup);
  const double p =
      static_cast<double>(s - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double c = 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, p)));
  return lr_max * (min_lr_ratio + (1.0 - min_lr_ratio) * c);
}

double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) {
  double sq = 0;
  for (const Tensor& g : grads) {
    // Each tensor's norm in f32 as torch does, then the norm of the norms.
    double s = 0;
    const float* p = g.ptr<float>();
    const int64_t count = g.numel();
    for (int64_t i = 0; i < count; ++i) s += static_cast<double>(p[i]) * p[i];
    const float n = static_cast<float>(std::sqrt(s));
    sq += static_cast<double>(n) * n;
  }
  const double norm = static_cast<float>(std::sqrt(sq));
  if (max_norm > 0) {
    const float coef = static_cast<float>(std::min(1.0, max_norm / (norm + 1e-6)));
    if (coef < 1.0f)
      for (const Tensor& g : grads) {
        float* p = g.ptr<float>();
        const int64_t n = g.numel();
        for (int64_t i = 0; i < n; ++i) p[i] *= coef;
      }
  }
  return norm;
}

AdamW::AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWConfig cfg)
    : params_(std::move(params)), cfg_(cfg) {
  for (const auto& [name, p] : params_) {
    if (p.dtype != DType::F32 || !p.is_contiguous())
      fail_internal("AdamW: parameter ", name, " is not contiguous f32");
    m_.push_back(Tensor::zeros(DType::F32, p.shape));
    v_.push_back(Tensor::zeros(DType::F32, p.shape));
  }
}

void AdamW::step(const std::vector<Tensor>& grads, double lr) {
  R1_ASSERT(grads.size() == params_.size());
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const float eps = static_cast<float>(cfg_.eps);
  thread_pool().parallel_for(static_cast<int64_t>(params_.size()), [&](int64_t i) {
    const Tensor& p = params_[i].second;
    const float decay = p.ndim() >= 2 ? static_cast<float>(1.0 - lr * cfg_.weight_decay) : 1.0f;
    // Distinct buffers (restrict) and a hoisted count let the compiler vectorize the loop; the
    // operations and their order per element are unchanged (PyTorch's, the parity tests').
    float* __restrict w = p.ptr<float>();
    float* __restrict m = m_[i].ptr<float>();
    float* __restrict v = v_[i].ptr<float>();
    const float* __restrict g = grads[i].ptr<float>();
    const int64_t n = p.numel();
    for (int64_t k = 0; k < n; ++k) {
      w[k] *= decay;
      m[k] = m[k] * b1 + g[k] * (1.0f - b1);
      v[k] = v[k] * b2 + (1.0f - b2) * g[k] * g[k];
      const float denom = std::sqrt(v[k]) / bc2_sqrt + eps;
      w[k] -= step_size * (m[k] / denom);
    }
  });
}

std::vector<std::pair<std::string, Tensor>> AdamW::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, m_[i]);
    out.emplace_back("exp_avg_sq." + params_[i].first, v_[i]);
  }
  return out;
}

}  // namespace r1::train
