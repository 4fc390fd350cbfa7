#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.h"

namespace r1::runtime {

void SamplingParams::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    fail_usage("temperature must be >= 0, got ", temperature);
  if (!(top_p > 0 && top_p <= 1)) fail_usage("top-p must be in (0, 1], got ", top_p);
  if (top_k < 0) fail_usage("top-k must be >= 0, got ", top_k);
  if (!(min_p >= 0 && min_p <= 1)) fail_usage("min-p must be in [0, 1], got ", min_p);
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty))
    fail_usage("repetition penalty must be > 0, got ", repetition_penalty);
  if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty))
    fail_usage("penalties must be finite numbers");
}

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

LogNormalizer log_normalizer(const float* z, int64_t n, float scale) {
  float m = -INFINITY;
  for (int64_t c = 0; c < n; ++c) m = std::max(m, z[c] * scale);
  double sum = 0;
  for (int64_t c = 0; c < n; ++c) sum += std::exp(static_cast<double>(z[c] * scale - m));
  return {m, std::log(sum)};
}

Sampler::Sampler(const SamplingParams& p, uint64_t stream)
    : p_(p), rng_(p.seed * 0x9e3779b97f4a7c15ull + stream) {}

const std::vector<TokenProb>& Sampler::distribution(float* logits, int64_t n,
                                                    const std::vector<int32_t>& prompt,
                                                    const std::vector<int32_t>& output) {
  dist_.clear();
  if (p_.repetition_penalty != 1.0f) {
    auto penalize = [&](int32_t id) {
      if (id < 0 || id >= n) return;
      float& l = logits[id];
      l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
    };
    // Each distinct id once, as HF's gather/scatter does.
    std::vector<int32_t> seen(prompt);
    seen.insert(seen.end(), output.begin(), output.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) penalize(id);
  }
  if (p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int> count;
    for (int32_t id : output) ++count[id];
    for (auto [id, c] : count)
      if (id >= 0 && id < n) logits[id] -= p_.presence_penalty + p_.frequency_penalty * c;
  }
  if (p_.temperature == 0.0f) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (logits[i] > logits[best]) best = i;
    dist_.push_back({static_cast<int32_t>(best), 1.0});
    return dist_;
  }
  // Candidates in the order of the distribution: by logit, descending (ties: lower id first, for
  // determinism). Only what a cutoff needs is ordered: top-k selects its k in linear time, top-p
  // orders a growing prefix until it holds the mass, and the survivors are sorted at the end.
  cand_.resize(n);
  for (int64_t i = 0; i < n; ++i) cand_[i] = {logits[i] / p_.temperature, static_cast<int32_t>(i)};
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  int64_t keep = n;
  if (p_.top_k > 0 && p_.top_k < n) {
    std::nth_element(cand_.begin(), cand_.begin() + (p_.top_k - 1), cand_.end(), by_logit);
    keep = p_.top_k;
  }
  float mx = cand_[0].first;
  for (int64_t i = 1; i < keep; ++i) mx = std::max(mx, cand_[i].first);
  auto weight = [&](int64_t i) { return std::exp(static_cast<double>(cand_[i].first - mx)); };
  double sum = 0;
  for (int64_t i = 0; i < keep; ++i) sum += weight(i);
  int64_t sorted = 0;  // cand_[0, sorted) is ordered and better than the rest of cand_[0, keep)
  if (p_.top_p < 1.0f) {
    // The smallest prefix whose mass reaches top_p (at least one token), as HF.
    double acc = 0;
    int64_t k = 0, chunk = 64;
    while (k < keep) {
      if (k == sorted) {
        const int64_t upto = std::min(keep, sorted + chunk);
        std::partial_sort(cand_.begin() + sorted, cand_.begin() + upto, cand_.begin() + keep,
                          by_logit);
        sorted = upto;
        chunk *= 4;
      }
      acc += weight(k) / sum;
      ++k;
      if (acc >= p_.top_p) break;
    }
    keep = k;
  }
  if (p_.min_p > 0.0f) {
    // Tokens below min_p times the top probability go (the top one, weight 1, always stays).
    keep = std::partition(cand_.begin(), cand_.begin() + keep,
                          [&](const auto& c) {
                            return std::exp(static_cast<double>(c.first - mx)) >= p_.min_p;
                          }) -
           cand_.begin();
    sorted = 0;  // a partition keeps no order: sorted below
  }
  if (sorted < keep) std::sort(cand_.begin() + sorted, cand_.begin() + keep, by_logit);
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += weight(i);
  for (int64_t i = 0; i < keep; ++i) dist_.push_back({cand_[i].second, weight(i) / total});
  return dist_;
}

int32_t Sampler::draw(const std::vector<TokenProb>& d) {
  R1_ASSERT(!d.empty());
  if (d.size() == 1) return d[0].id;
  double r = rng_.uniform();
  for (const auto& t : d) {
    r -= t.p;
    if (r < 0) return t.id;
  }
  return d.back().id;
}

int32_t Sampler::sample(float* logits, int64_t n, const std::vector<int32_t>& prompt,
                        const std::vector<int32_t>& output) {
  return draw(distribution(logits, n, prompt, output));
}

}  // namespace r1::runtime
