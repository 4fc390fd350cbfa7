#include "io/rope_freqs.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace r1::io {

std::vector<float> rope_base_inv_freq(int64_t dim, double theta) {
  std::vector<float> f(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    f[static_cast<size_t>(i)] =
        1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / dim);
  return f;
}

std::vector<float> llama3_freq_factors(int64_t dim, double theta, const RopeScaling& s) {
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_len / s.low_freq_factor,
               high_wavelen = old_len / s.high_freq_factor;
  std::vector<float> out;
  for (float f : rope_base_inv_freq(dim, theta)) {
    const double wavelen = 2 * M_PI / f;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(s.factor));
    } else {
      const double smooth =
          (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth)));
    }
  }
  return out;
}

RopeScaling llama3_from_freq_factors(const std::vector<float>& factors, int64_t dim, double theta,
                                     const std::string& where) {
  if (static_cast<int64_t>(factors.size()) != dim / 2)
    fail_input(where, ": rope_freqs has ", factors.size(), " values for rotary dimension ", dim,
               " (expected ", dim / 2, ")");
  RopeScaling s;
  const float factor = *std::max_element(factors.begin(), factors.end());
  if (std::all_of(factors.begin(), factors.end(), [](float f) { return f == 1.0f; })) return s;
  s.type = "llama3";
  s.factor = factor;
  s.low_freq_factor = 1.0;
  s.high_freq_factor = 4.0;
  // original_max_position_embeddings from the blend of a dimension between the two regimes
  // (1 / f = (1 - s) / factor + s, s linear in original / wavelength), or, with none, any value
  // the kept and divided wavelengths allow (they give the same divisors).
  const std::vector<float> inv = rope_base_inv_freq(dim, theta);
  double lo = 0, hi = 1e18, orig = -1;
  for (size_t i = 0; i < factors.size(); ++i) {
    const double f = factors[i], wavelen = 2 * M_PI / inv[i];
    if (!(f >= 1.0 && f <= factor)) break;  // refused below
    if (f == 1.0) {
      lo = std::max(lo, wavelen * s.high_freq_factor);
    } else if (f == factor) {
      hi = std::min(hi, wavelen * s.low_freq_factor);
    } else if (orig < 0) {
      const double smooth = (1.0 / f - 1.0 / factor) / (1.0 - 1.0 / factor);
      orig = std::round((smooth * (s.high_freq_factor - s.low_freq_factor) + s.low_freq_factor) *
                        wavelen);
    }
  }
  if (orig < 0) orig = std::ceil(lo < hi ? std::max(lo, std::sqrt(lo * std::max(hi, lo))) : lo);
  s.original_max_position_embeddings = static_cast<int64_t>(orig);
  const std::vector<float> again = llama3_freq_factors(dim, theta, s);
  for (size_t i = 0; i < factors.size(); ++i)
    if (!(std::fabs(again[i] - factors[i]) <= 1e-5f * factors[i]))
      fail_input(where, ": rope_freqs (", factors[i], " at ", i,
                 ") is not Llama 3's rope scaling with low_freq_factor 1 and high_freq_factor 4");
  return s;
}

}  // namespace r1::io
