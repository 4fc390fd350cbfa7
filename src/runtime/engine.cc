#include "runtime/engine.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace r1::runtime {

struct Engine::Sample {
  int slot = -1;
  Sampler sampler;
  std::unique_ptr<OutputBuilder> builder;
  int32_t next = -1;   // sampled, not yet run through the model
  SampleDelta delta;   // what this step produced, not yet emitted
  bool ended = false;  // its last delta was emitted
};

struct Engine::Job {
  EngineRequest r;
  std::shared_ptr<EngineTicket> ticket;
  TextCallback on_text;
  int slot = -1;          // the prompt's cache slot (sample 0's once the prompt is done)
  int64_t prefilled = 0;  // prompt tokens in the cache
  bool decoding = false;  // the prompt is done; the samples decode
  int64_t reserved = 0;   // cache positions counted against the budget
  std::vector<Sample> samples;
};

Engine::Engine(models::Model& model, const tok::Tokenizer* tokenizer, std::vector<int32_t> eos,
               EngineOptions opt)
    : model_(model),
      tok_(tokenizer),
      eos_(std::move(eos)),
      opt_(opt),
      cache_(model.new_cache()),
      context_(cache_.max_positions()),
      vocab_(model.config().vocab) {
  if (opt_.max_running < 1 || opt_.max_waiting < 0 || opt_.step_tokens < 1)
    fail_usage("engine: max_running and step_tokens must be >= 1, max_waiting >= 0");
  cache_.set_dtype(opt_.kv_dtype);
  stats_.kv_block_size = cache_.block_size();
  if (opt_.kv_budget_bytes > 0) {
    stats_.kv_blocks_budget = opt_.kv_budget_bytes / cache_.bytes_per_block();
    if (stats_.kv_blocks_budget < 1)
      fail_usage("the KV memory budget holds no block (", cache_.bytes_per_block(),
                 " bytes per block of ", cache_.block_size(), " tokens)");
    cache_.set_block_budget(stats_.kv_blocks_budget);
  }
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  stop();
}

void Engine::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t Engine::reserve_of(const Job& j) const {
  // The prompt's blocks (shared by the samples), then for each sample its reply's blocks and a
  // copy of the prompt's last, partly filled block.
  const int64_t B = cache_.block_size(), p = static_cast<int64_t>(j.r.gen.prompt.size());
  const int64_t reply = std::min(context_ - p, std::max<int64_t>(0, j.r.gen.max_tokens));
  return (p + B - 1) / B + j.r.gen.n * ((reply + B - 1) / B + 1);
}

std::shared_ptr<EngineTicket> Engine::submit(EngineRequest r) {
  const GenRequest& g = r.gen;
  g.sampling.validate();
  if (g.prompt.empty()) fail_input("the prompt is empty");
  for (int32_t t : g.prompt)
    if (t < 0 || t >= vocab_)
      fail_input("token id ", t, " is not in the vocabulary (", vocab_, ")");
  if (static_cast<int64_t>(g.prompt.size()) > context_)
    fail_input("a prompt of ", g.prompt.size(), " tokens does not fit the context of ", context_,
               " tokens");
  if (g.n < 1 || g.n > opt_.max_running)
    fail_input("n = ", g.n, " samples; this server runs at most ", opt_.max_running, " at once");
  if (!g.stop.empty() && !tok_) fail_input("stop strings need a tokenizer");
  for (const std::string& s : g.stop)
    if (s.empty()) fail_input("a stop string must not be empty");
  if (r.top_logprobs > 20) fail_input("top_logprobs must be at most 20");
  auto job = std::make_unique<Job>();
  job->r = std::move(r);
  job->ticket = std::make_shared<EngineTicket>();
  job->reserved = reserve_of(*job);
  if (stats_.kv_blocks_budget > 0 && job->reserved > stats_.kv_blocks_budget)
    fail_input("the request may need ", job->reserved, " KV cache blocks of ", cache_.block_size(),
               " tokens (its prompt, and max_tokens for each of its n samples); the KV memory ",
               "budget holds ", stats_.kv_blocks_budget);
  auto ticket = job->ticket;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) fail_input("the server is shutting down");
    // Room to run at once, or room in the queue.
    int64_t queued_seqs = 0;
    for (const auto& w : waiting_) queued_seqs += w->r.gen.n;
    const bool runs_now = stats_.running + queued_seqs + job->r.gen.n <= opt_.max_running;
    if (!runs_now && static_cast<int64_t>(waiting_.size()) >= opt_.max_waiting) return nullptr;
    waiting_.push_back(std::move(job));
    stats_.waiting = static_cast<int64_t>(waiting_.size());
  }
  cv_.notify_all();
  return ticket;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void Engine::emit(Job& j, size_t s) {
  Sample& sm = j.samples[s];
  SampleDelta& d = sm.delta;
  if (sm.ended || (d.tokens.empty() && d.text.empty() && d.finish_reason.empty())) return;
  d.sample = s;
  d.prompt_tokens = static_cast<int64_t>(j.r.gen.prompt.size());
  if (!d.finish_reason.empty()) sm.ended = true;
  if (j.r.on_delta) j.r.on_delta(d);
  d = SampleDelta{};
}

void Engine::finish_job_samples(Job& j, const std::string& reason) {
  for (size_t s = 0; s < j.samples.size(); ++s) {
    Sample& sm = j.samples[s];
    if (!sm.builder->done()) sm.builder->finish(reason);
    if (sm.delta.finish_reason.empty() && !sm.ended)
      sm.delta.finish_reason = sm.builder->out().finish_reason;
    emit(j, s);
  }
}

TokenLogprob Engine::logprob_of(const float* z, int32_t token, int k) {
  float m = -INFINITY;
  for (int64_t c = 0; c < vocab_; ++c) m = std::max(m, z[c]);
  double sum = 0;
  for (int64_t c = 0; c < vocab_; ++c) sum += std::exp(static_cast<double>(z[c] - m));
  const float lse = m + static_cast<float>(std::log(sum));
  TokenLogprob out;
  out.id = token;
  out.logprob = z[token] - lse;
  // The k largest logits, most likely first (ties to the lower id), kept in a small sorted list.
  std::vector<std::pair<float, int32_t>> best;
  for (int64_t c = 0; c < vocab_ && k > 0; ++c) {
    if (static_cast<int>(best.size()) == k && z[c] <= best.back().first) continue;
    auto it = std::upper_bound(best.begin(), best.end(), std::make_pair(z[c], -1),
                               [](const auto& a, const auto& b) { return a.first > b.first; });
    best.insert(it, {z[c], static_cast<int32_t>(c)});
    if (static_cast<int>(best.size()) > k) best.pop_back();
  }
  for (const auto& [v, id] : best) out.top.push_back({id, v - lse});
  return out;
}

void Engine::end_unstarted(Job& j) {
  for (int64_t s = 0; s < j.r.gen.n; ++s) {
    SampleDelta d;
    d.sample = static_cast<size_t>(s);
    d.finish_reason = "cancelled";
    d.prompt_tokens = static_cast<int64_t>(j.r.gen.prompt.size());
    if (j.r.on_delta) j.r.on_delta(d);
  }
}

void Engine::admit() {
  // Under mu_. First come, first served: a request waits while the one before it waits.
  while (!waiting_.empty()) {
    Job& j = *waiting_.front();
    if (j.ticket->cancelled()) {
      end_unstarted(j);
      waiting_.pop_front();
      continue;
    }
    const bool budget_ok =
        stats_.kv_blocks_budget == 0 || reserved_blocks_ + j.reserved <= stats_.kv_blocks_budget;
    if (running_seqs_ + j.r.gen.n > opt_.max_running || !budget_ok) break;
    auto job = std::move(waiting_.front());
    waiting_.pop_front();
    job->on_text = [jp = job.get()](size_t s, const std::string& t) {
      jp->samples[s].delta.text += t;
    };
    const GenRequest& g = job->r.gen;
    job->samples.reserve(static_cast<size_t>(g.n));
    for (int64_t s = 0; s < g.n; ++s) {
      SamplingParams sp = g.sampling;
      sp.seed = g.sampling.seed + static_cast<uint64_t>(s);
      Sample sm{-1, Sampler(sp), nullptr, -1, {}, false};
      sm.builder = std::make_unique<OutputBuilder>(g, tok_, &eos_, static_cast<size_t>(s),
                                                   &job->on_text, context_);
      job->samples.push_back(std::move(sm));
    }
    running_seqs_ += g.n;
    stats_.running = running_seqs_;
    reserved_blocks_ += job->reserved;
    // The longest cached prefix of the prompt is not prefilled again (one token at least is, for
    // its logits).
    job->slot = cache_.add_sequence();
    job->prefilled =
        cache_.attach_prefix(job->slot, g.prompt.data(), static_cast<int64_t>(g.prompt.size()) - 1);
    job->samples[0].delta.cached_prompt_tokens = job->prefilled;
    stats_.cached_prompt_tokens += job->prefilled;
    stats_.prompt_tokens += static_cast<int64_t>(g.prompt.size());
    running_.push_back(std::move(job));
  }
  stats_.waiting = static_cast<int64_t>(waiting_.size());
}

bool Engine::step() {
  // Requests cancelled by their clients, and requests with no room for a single token.
  for (auto& jp : running_) {
    Job& j = *jp;
    if (j.ticket->cancelled())
      finish_job_samples(j, "cancelled");
    else if (!j.decoding && j.samples[0].builder->done())
      finish_job_samples(j, "length");
  }
  models::Batch b;
  struct Want {
    Job* job;
    int64_t sample;  // -1: the prompt's last token (every sample samples from it)
  };
  std::vector<Want> wants;
  for (auto& jp : running_) {
    if (!jp->decoding) continue;
    for (size_t s = 0; s < jp->samples.size(); ++s) {
      Sample& sm = jp->samples[s];
      if (sm.builder->done()) continue;
      b.add(sm.next, static_cast<int32_t>(cache_.length(sm.slot)), sm.slot, true);
      wants.push_back({jp.get(), static_cast<int64_t>(s)});
    }
  }
  const int64_t decode_tokens = static_cast<int64_t>(b.tokens.size());
  int64_t budget =
      std::max<int64_t>(opt_.step_tokens - decode_tokens, std::min<int64_t>(32, opt_.step_tokens));
  for (auto& jp : running_) {
    Job& j = *jp;
    if (j.decoding || j.samples[0].builder->done() || budget <= 0) continue;
    const int64_t p = static_cast<int64_t>(j.r.gen.prompt.size());
    const int64_t take = std::min(p - j.prefilled, budget);
    for (int64_t t = j.prefilled; t < j.prefilled + take; ++t)
      b.add(j.r.gen.prompt[t], static_cast<int32_t>(t), j.slot, t + 1 == p);
    if (j.prefilled + take == p) wants.push_back({&j, -1});
    j.prefilled += take;
    budget -= take;
  }
  int64_t generated = 0;
  if (!b.tokens.empty()) {
    Tensor logits = model_.forward(b, cache_);
    // The prompt blocks just filled become findable by later requests (before any fork).
    for (auto& jp : running_)
      if (!jp->decoding && jp->slot >= 0)
        cache_.publish(jp->slot, jp->r.gen.prompt.data(), jp->prefilled);
    for (size_t w = 0; w < wants.size(); ++w) {
      Job& j = *wants[w].job;
      const float* z = logits.ptr<float>() + static_cast<int64_t>(w) * vocab_;
      std::vector<size_t> who;
      if (wants[w].sample >= 0) {
        who.push_back(static_cast<size_t>(wants[w].sample));
      } else {
        j.decoding = true;
        for (size_t s = 0; s < j.samples.size(); ++s) {
          j.samples[s].slot = s == 0 ? j.slot : cache_.fork_sequence(j.slot);
          if (s + 1 == j.samples.size()) j.slot = -1;  // sample 0 owns it now
          who.push_back(s);
        }
      }
      for (size_t s : who) {
        Sample& sm = j.samples[s];
        GenOutput& o = sm.builder->out();
        row_.assign(z, z + vocab_);
        const int32_t token = sm.sampler.sample(row_.data(), vocab_, j.r.gen.prompt, o.tokens);
        const size_t before = o.tokens.size();
        sm.next = token;
        sm.builder->push(token);
        if (o.tokens.size() > before) {
          sm.delta.tokens.push_back(token);
          if (j.r.top_logprobs >= 0)
            sm.delta.logprobs.push_back(logprob_of(z, token, j.r.top_logprobs));
        }
        ++generated;
        if (sm.builder->done()) sm.delta.finish_reason = o.finish_reason;
      }
    }
  }
  // Finished samples free their slots, the counts are brought up to date, then the deltas go
  // out (so that a client that got its last token sees counts that include it), and finished
  // requests leave.
  auto ending = [](const Sample& sm) { return sm.ended || !sm.delta.finish_reason.empty(); };
  int64_t live = 0;
  for (auto& jp : running_) {
    Job& j = *jp;
    bool all_ended = true;
    for (Sample& sm : j.samples) {
      if (ending(sm) && sm.slot >= 0) {
        cache_.free_sequence(sm.slot);
        sm.slot = -1;
      }
      if (!ending(sm)) {
        all_ended = false;
        ++live;
      }
    }
    if (all_ended && j.slot >= 0) {
      cache_.free_sequence(j.slot);
      j.slot = -1;
    }
    if (all_ended) reserved_blocks_ -= j.reserved;
  }
  running_seqs_ = live;
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.running = running_seqs_;
    stats_.kv_blocks_used = cache_.blocks_in_use();
    stats_.kv_blocks_cached = cache_.blocks_cached();
    stats_.generated_tokens += generated;
    ++stats_.steps;
  }
  for (auto& jp : running_)
    for (size_t s = 0; s < jp->samples.size(); ++s) emit(*jp, s);
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const std::unique_ptr<Job>& j) {
                                  for (const Sample& s : j->samples)
                                    if (!s.ended) return false;
                                  return true;
                                }),
                 running_.end());
  return !b.tokens.empty();
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !waiting_.empty() || !running_.empty(); });
      if (stopping_) break;
      admit();
    }
    try {
      step();
    } catch (const std::exception& e) {
      // A failure inside a forward pass (e.g. memory) ends the requests it touched, not the
      // server.
      for (auto& jp : running_) {
        for (Sample& sm : jp->samples) sm.delta.error = e.what();
        finish_job_samples(*jp, "error");
        for (Sample& sm : jp->samples)
          if (sm.slot >= 0) cache_.free_sequence(sm.slot);
        if (!jp->decoding && jp->slot >= 0) cache_.free_sequence(jp->slot);
      }
      running_.clear();
      running_seqs_ = 0;
      reserved_blocks_ = 0;
      std::lock_guard<std::mutex> l(mu_);
      stats_.running = 0;
      stats_.kv_blocks_used = cache_.blocks_in_use();
    }
  }
  // Shutting down: every request ends, cancelled.
  for (auto& jp : running_) finish_job_samples(*jp, "cancelled");
  running_.clear();
  std::lock_guard<std::mutex> l(mu_);
  for (auto& jp : waiting_) end_unstarted(*jp);
  waiting_.clear();
  stats_.waiting = 0;
}

}  // namespace r1::runtime
