// Server metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and
// histograms with cumulative buckets, _sum and _count. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace r1::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the exposition lines of this histogram under name (with # HELP and # TYPE).
  void render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Gauges read from the engine when /metrics is rendered.
struct EngineGauges {
  int64_t waiting = 0, running = 0;
  int64_t kv_blocks_used = 0, kv_blocks_cached = 0, kv_blocks_budget = 0, kv_block_size = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0, cached_prompt_tokens = 0;
  int64_t steps = 0;
  int64_t preemptions = 0;
};

class Metrics {
 public:
  Metrics();
  void request_done(const std::string& endpoint, int status);
  void time_to_first_token(double seconds);
  void inter_token_latency(double seconds);
  void request_latency(double seconds);
  std::string render(const EngineGauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram ttft_, itl_, e2e_;
};

}  // namespace r1::server
