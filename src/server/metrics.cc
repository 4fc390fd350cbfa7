#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace r1::server {

namespace {
std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.17g", v);
  return b;
}
void line(std::string* out, const std::string& name, const std::string& labels, double v) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " " + num(v) + "\n";
}
void head(std::string* out, const std::string& name, const char* type, const std::string& help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t b = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[b];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string* out) const {
  head(out, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    line(out, name + "_bucket", "le=\"" + num(bounds_[i]) + "\"", static_cast<double>(cum));
  }
  line(out, name + "_bucket", "le=\"+Inf\"", static_cast<double>(count_));
  line(out, name + "_sum", "", sum_);
  line(out, name + "_count", "", static_cast<double>(count_));
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5}),
      e2e_({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void Metrics::request_done(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{endpoint, status}];
}
void Metrics::time_to_first_token(double s) {
  std::lock_guard<std::mutex> l(mu_);
  ttft_.observe(s);
}
void Metrics::inter_token_latency(double s) {
  std::lock_guard<std::mutex> l(mu_);
  itl_.observe(s);
}
void Metrics::request_latency(double s) {
  std::lock_guard<std::mutex> l(mu_);
  e2e_.observe(s);
}

std::string Metrics::render(const EngineGauges& g) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  head(&out, "r1_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [k, v] : requests_)
    line(&out, "r1_requests_total",
         "endpoint=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"",
         static_cast<double>(v));
  auto counter = [&](const char* name, const char* help, int64_t v) {
    head(&out, name, "counter", help);
    line(&out, name, "", static_cast<double>(v));
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    head(&out, name, "gauge", help);
    line(&out, name, "", v);
  };
  counter("r1_prompt_tokens_total", "Prompt tokens of admitted requests.", g.prompt_tokens);
  counter("r1_generation_tokens_total", "Tokens generated.", g.generated_tokens);
  counter("r1_prefix_cache_hit_tokens_total", "Prompt tokens whose cached keys/values were reused.",
          g.cached_prompt_tokens);
  counter("r1_engine_steps_total", "Forward passes of the engine.", g.steps);
  counter("r1_preemptions_total",
          "Running requests sent back to the queue to free KV cache blocks (resumed later).",
          g.preemptions);
  gauge("r1_requests_waiting", "Requests queued, not yet running.", static_cast<double>(g.waiting));
  gauge("r1_sequences_running", "Sequences in the running batch.", static_cast<double>(g.running));
  gauge("r1_kv_cache_blocks_used", "KV cache blocks held by running sequences.",
        static_cast<double>(g.kv_blocks_used));
  gauge("r1_kv_cache_blocks_cached", "Unused KV cache blocks kept for prefix reuse (evictable).",
        static_cast<double>(g.kv_blocks_cached));
  gauge("r1_kv_cache_blocks_free",
        "KV cache blocks that can still be taken (free or evictable; -1: no budget set).",
        g.kv_blocks_budget ? static_cast<double>(g.kv_blocks_budget - g.kv_blocks_used) : -1.0);
  gauge("r1_kv_cache_block_tokens", "Token positions per KV cache block.",
        static_cast<double>(g.kv_block_size));
  gauge("r1_prefix_cache_hit_rate", "Share of prompt tokens served from the prefix cache.",
        g.prompt_tokens ? static_cast<double>(g.cached_prompt_tokens) / g.prompt_tokens : 0.0);
  ttft_.render("r1_time_to_first_token_seconds", "Time from request to its first token.", &out);
  itl_.render("r1_inter_token_latency_seconds", "Time between tokens of a sequence.", &out);
  e2e_.render("r1_request_duration_seconds", "Time from request to its last token.", &out);
  return out;
}

}  // namespace r1::server
