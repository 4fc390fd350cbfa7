#include "models/rope.h"

#include <algorithm>
#include <cmath>

#include "io/rope_freqs.h"

namespace r1::models {

std::vector<float> rope_inv_freq(int64_t dim, double theta, const io::RopeScaling& s) {
  std::vector<float> f = io::rope_base_inv_freq(dim, theta);
  if (s.type == "llama3") {
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor;
    const double high_wavelen = old_len / s.high_freq_factor;
    for (auto& x : f) {
      const double wavelen = 2 * M_PI / x;
      if (wavelen > low_wavelen) {
        x = static_cast<float>(x / s.factor);
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        x = static_cast<float>((1 - smooth) * x / s.factor + smooth * x);
      }
    }
  }
  if (s.type == "yarn") {
    // Correction range (DeepSeek-V3 / HF yarn_find_correction_range), in dimension indices.
    const double orig = static_cast<double>(s.original_max_position_embeddings);
    auto corr = [&](double rotations) {
      return dim * std::log(orig / (rotations * 2 * M_PI)) / (2 * std::log(theta));
    };
    double low = std::max(std::floor(corr(s.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(s.beta_slow)), static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const float ramp_f = static_cast<float>(ramp);
      f[i] = f[i] / static_cast<float>(s.factor) * ramp_f + f[i] * (1.0f - ramp_f);
    }
  }
  return f;
}

double yarn_mscale(double factor, double m) {
  return factor <= 1 ? 1.0 : 0.1 * m * std::log(factor) + 1.0;
}

double rope_attention_factor(const io::RopeScaling& s) {
  if (s.type != "yarn") return 1.0;
  return yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim);
}

void rope_tables(const std::vector<float>& inv_freq, const std::vector<int32_t>& positions,
                 Tensor* cos, Tensor* sin) {
  const int64_t T = static_cast<int64_t>(positions.size()), half = inv_freq.size();
  *cos = Tensor::zeros(DType::F32, {T, half});
  *sin = Tensor::zeros(DType::F32, {T, half});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      float angle = static_cast<float>(positions[t]) * inv_freq[i];
      cos->ptr<float>()[t * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin->ptr<float>()[t * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
}

}  // namespace r1::models
