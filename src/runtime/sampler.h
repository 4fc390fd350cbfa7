// Token sampling. The order of the transforms follows Hugging Face's generate():
// repetition penalty, presence/frequency penalties, temperature, top-k, top-p, min-p, then a
// draw. Temperature 0 means greedy (argmax, ties to the lowest id).
// Defaults are R1's recommendation (temperature 0.6, top-p 0.95; docs/FACTS.md section 4).
#pragma once

#include <cstdint>
#include <vector>

namespace r1::runtime {

struct SamplingParams {
  float temperature = 0.6f;
  float top_p = 0.95f;
  int top_k = 0;       // 0: off
  float min_p = 0.0f;  // keep tokens with p >= min_p * p_max; 0: off
  // HF: logits of tokens already seen (prompt and output) are divided by it if positive,
  // multiplied if negative. 1: off.
  float repetition_penalty = 1.0f;
  // OpenAI: logit -= presence * [count > 0] + frequency * count, over generated tokens.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;

  // Usage error naming the field if a value is out of range.
  void validate() const;
};

// A seeded generator with a fixed algorithm (xoshiro256**, splitmix64 seeding) so that the same
// seed gives the same tokens on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

struct TokenProb {
  int32_t id;
  double p;
};

// The normalizer of log softmax(scale * z): log p[i] = scale * z[i] - max - log_sum (the max in
// f32, the sum of exponentials in f64). One pass for the max, one for the sum.
struct LogNormalizer {
  float max;
  double log_sum;
  double logprob(const float* z, int64_t i, float scale) const {
    return z[i] * scale - max - log_sum;
  }
};
LogNormalizer log_normalizer(const float* z, int64_t n, float scale);

class Sampler {
 public:
  Sampler(const SamplingParams& p, uint64_t stream = 0);
  // Picks the next token from logits [n] (modified in place). prompt and output are the token
  // ids so far (penalties read them).
  int32_t sample(float* logits, int64_t n, const std::vector<int32_t>& prompt,
                 const std::vector<int32_t>& output);
  // The distribution sample() draws from: penalties, temperature and truncation applied;
  // (id, probability) in descending probability, summing to 1 (greedy: the argmax alone).
  // Valid until the next call.
  const std::vector<TokenProb>& distribution(float* logits, int64_t n,
                                             const std::vector<int32_t>& prompt,
                                             const std::vector<int32_t>& output);
  // One draw from a distribution (uses this sampler's random stream).
  int32_t draw(const std::vector<TokenProb>& d);
  double uniform() { return rng_.uniform(); }
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> cand_;
  std::vector<TokenProb> dist_;
};

}  // namespace r1::runtime
