#include "runtime/engine.h"

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "core/error.h"

namespace r1::runtime {

struct Engine::Sample {
  int slot = -1;
  Sampler sampler;
  std::unique_ptr<OutputBuilder> builder;
  // Generated tokens whose keys/values are in the cache: all but the last sampled one normally;
  // none after a preemption, when the whole reply is fed again before sampling resumes.
  int64_t fed = 0;
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
  bool started = false;   // admitted once (samples exist); a preempted job is started
  int64_t worst = 0;      // cache blocks it may need at most
  int64_t take = 0;       // prompt tokens it prefills this step (plan)
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
  if (opt_.kv_cached_tokens >= 0)
    cache_.set_cached_limit((opt_.kv_cached_tokens + cache_.block_size() - 1) /
                            cache_.block_size());
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
  job->worst = reserve_of(*job);
  if (stats_.kv_blocks_budget > 0 && job->worst > stats_.kv_blocks_budget)
    fail_input("the request may need ", job->worst, " KV cache blocks of ", cache_.block_size(),
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
  const LogNormalizer ln = log_normalizer(z, vocab_, 1.0f);
  TokenLogprob out;
  out.id = token;
  out.logprob = static_cast<float>(ln.logprob(z, token, 1.0f));
  // The k largest logits, most likely first (ties to the lower id), kept in a small sorted list.
  std::vector<std::pair<float, int32_t>> best;
  for (int64_t c = 0; c < vocab_ && k > 0; ++c) {
    if (static_cast<int>(best.size()) == k && z[c] <= best.back().first) continue;
    auto it = std::upper_bound(best.begin(), best.end(), std::make_pair(z[c], -1),
                               [](const auto& a, const auto& b) { return a.first > b.first; });
    best.insert(it, {z[c], static_cast<int32_t>(c)});
    if (static_cast<int>(best.size()) > k) best.pop_back();
  }
  for (const auto& [v, id] : best)
    out.top.push_back({id, static_cast<float>(ln.logprob(z, id, 1.0f))});
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

bool Engine::all_done(const Job& j) const {
  // No sample can take a token (each ended, or had no room from the start).
  for (const Sample& sm : j.samples)
    if (!sm.builder->done()) return false;
  return true;
}

bool Engine::ending(const Sample& sm) {
  return sm.ended || !sm.delta.finish_reason.empty();  // its last delta is out or on its way
}

int64_t Engine::live_samples(const Job& j) const {
  if (!j.started) return j.r.gen.n;
  int64_t n = 0;
  for (const Sample& sm : j.samples) n += !ending(sm);
  return n;
}

void Engine::admit() {
  // Under mu_. First come, first served: a request waits while the one before it waits (a
  // preempted one waits at the front). With a KV budget, a request needs room for its prompt and
  // a block per sample beside what the running ones hold; if they grow past the budget later,
  // the newest is preempted (see step).
  int64_t promised = 0;
  while (!waiting_.empty()) {
    Job& j = *waiting_.front();
    if (j.ticket->cancelled()) {
      if (j.started)
        finish_job_samples(j, "cancelled");
      else
        end_unstarted(j);
      waiting_.pop_front();
      continue;
    }
    const int64_t live = live_samples(j);
    if (running_seqs_ + live > opt_.max_running) break;
    // Its prompt's blocks, and per live sample a block of headroom plus, for a preempted
    // request, the blocks of the reply it will feed again.
    const int64_t B = cache_.block_size(), p = static_cast<int64_t>(j.r.gen.prompt.size());
    int64_t need = (p + B - 1) / B + live;
    for (const Sample& sm : j.samples)
      if (!sm.ended && !sm.builder->done())
        need += (static_cast<int64_t>(sm.builder->out().tokens.size()) + B - 1) / B;
    if (!running_.empty() && promised + need > cache_.blocks_available()) break;
    promised += need;
    auto job = std::move(waiting_.front());
    waiting_.pop_front();
    const GenRequest& g = job->r.gen;
    const bool first = !job->started;
    if (first) {
      job->started = true;
      job->on_text = [jp = job.get()](size_t s, const std::string& t) {
        jp->samples[s].delta.text += t;
      };
      job->samples.reserve(static_cast<size_t>(g.n));
      for (int64_t s = 0; s < g.n; ++s) {
        SamplingParams sp = g.sampling;
        sp.seed = g.sampling.seed + static_cast<uint64_t>(s);
        Sample sm{-1, Sampler(sp), nullptr, 0, {}, false};
        sm.builder = std::make_unique<OutputBuilder>(g, tok_, &eos_, static_cast<size_t>(s),
                                                     &job->on_text, context_);
        job->samples.push_back(std::move(sm));
      }
      stats_.prompt_tokens += p;
    }
    running_seqs_ += live;
    stats_.running = running_seqs_;
    // The longest cached prefix of the prompt is not prefilled again (one token at least is, for
    // its logits).
    job->slot = cache_.add_sequence();
    job->prefilled = cache_.attach_prefix(job->slot, g.prompt.data(), p - 1);
    job->decoding = false;
    if (first) job->samples[0].delta.cached_prompt_tokens = job->prefilled;  // usage reports it
    stats_.cached_prompt_tokens += job->prefilled;
    running_.push_back(std::move(job));
  }
  stats_.waiting = static_cast<int64_t>(waiting_.size());
}

void Engine::preempt(Job& j) {
  // Its cache is given back; its samples keep their replies (sampler states, streamed text) and
  // feed them again when it is admitted anew, so its output is the same as if it had run on.
  for (Sample& sm : j.samples) {
    if (sm.slot >= 0) cache_.free_sequence(sm.slot);
    sm.slot = -1;
    sm.fed = 0;
  }
  if (j.slot >= 0) cache_.free_sequence(j.slot);
  j.slot = -1;
  j.prefilled = 0;
  j.decoding = false;
  running_seqs_ -= live_samples(j);
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const std::unique_ptr<Job>& p) { return p.get() == &j; });
  std::unique_ptr<Job> job = std::move(*it);
  running_.erase(it);
  std::lock_guard<std::mutex> l(mu_);
  waiting_.push_front(std::move(job));
  stats_.waiting = static_cast<int64_t>(waiting_.size());
  stats_.running = running_seqs_;
  ++stats_.preemptions;
}

int64_t Engine::plan(int64_t* blocks) {
  // The prompt tokens each prefilling job gets this step (decode tokens first), and the cache
  // blocks the step will take.
  int64_t decode = 0;
  *blocks = 0;
  for (auto& jp : running_) {
    if (!jp->decoding) continue;
    for (Sample& sm : jp->samples) {
      if (sm.slot < 0 || sm.builder->done()) continue;
      const int64_t feed = static_cast<int64_t>(sm.builder->out().tokens.size()) - sm.fed;
      decode += feed;
      *blocks += cache_.blocks_needed(sm.slot, cache_.length(sm.slot) + feed);
    }
  }
  int64_t budget =
      std::max<int64_t>(opt_.step_tokens - decode, std::min<int64_t>(32, opt_.step_tokens));
  for (auto& jp : running_) {
    Job& j = *jp;
    j.take = 0;
    if (j.decoding || j.slot < 0 || all_done(j) || budget <= 0) continue;
    j.take = std::min(static_cast<int64_t>(j.r.gen.prompt.size()) - j.prefilled, budget);
    budget -= j.take;
    *blocks += cache_.blocks_needed(j.slot, j.prefilled + j.take);
  }
  return decode;
}

bool Engine::step() {
  // Requests cancelled by their clients, and requests with no room for a single token.
  for (auto& jp : running_) {
    Job& j = *jp;
    if (j.ticket->cancelled())
      finish_job_samples(j, "cancelled");
    else if (!j.decoding && all_done(j))
      finish_job_samples(j, "length");
  }
  // Memory: while the step needs more blocks than the cache can give, the newest running request
  // with work left is preempted.
  for (int64_t need = 0;;) {
    plan(&need);
    if (need <= cache_.blocks_available()) break;
    Job* victim = nullptr;
    for (auto& jp : running_)
      if (live_samples(*jp) > 0) victim = jp.get();
    int64_t with_work = 0;
    for (auto& jp : running_) with_work += live_samples(*jp) > 0;
    if (!victim || with_work <= 1) break;  // alone it fits: submit() checked its worst case
    preempt(*victim);
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
      if (sm.slot < 0 || sm.builder->done()) continue;
      // The last sampled token (or, after a preemption, the whole reply so far).
      const std::vector<int32_t>& toks = sm.builder->out().tokens;
      const int64_t len = cache_.length(sm.slot), n = static_cast<int64_t>(toks.size());
      for (int64_t i = sm.fed; i < n; ++i)
        b.add(toks[i], static_cast<int32_t>(len + i - sm.fed), sm.slot, i + 1 == n);
      sm.fed = n;
      wants.push_back({jp.get(), static_cast<int64_t>(s)});
    }
  }
  // The prompt chunks of the last plan (made before the decode tokens were marked fed).
  const int64_t decoded = static_cast<int64_t>(b.tokens.size());
  for (auto& jp : running_) {
    Job& j = *jp;
    if (j.take == 0) continue;
    const int64_t p = static_cast<int64_t>(j.r.gen.prompt.size());
    for (int64_t t = j.prefilled; t < j.prefilled + j.take; ++t)
      b.add(j.r.gen.prompt[t], static_cast<int32_t>(t), j.slot, t + 1 == p);
    if (j.prefilled + j.take == p) wants.push_back({&j, -1});
    j.prefilled += j.take;
  }
  int64_t generated = 0;
  if (!b.tokens.empty()) {
    const double t0 = now_seconds();
    Tensor logits = model_.forward(b, cache_);
    const double took = now_seconds() - t0;
    {
      const int64_t all = static_cast<int64_t>(b.tokens.size());
      const double share = static_cast<double>(decoded) / static_cast<double>(all);
      std::lock_guard<std::mutex> l(mu_);
      stats_.prefilled_tokens += all - decoded;
      stats_.decoded_tokens += decoded;
      stats_.prefill_seconds += took * (1 - share);
      stats_.decode_seconds += took * share;
    }
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
        // The prompt is done: each live sample gets the prompt's cache (the first takes the
        // slot, the others fork it); those with no reply yet sample from these logits, resumed
        // ones feed their replies at the next step.
        j.decoding = true;
        int owner = -1;
        for (size_t s = 0; s < j.samples.size(); ++s) {
          Sample& sm = j.samples[s];
          if (sm.ended || sm.builder->done()) continue;
          sm.slot = owner < 0 ? j.slot : cache_.fork_sequence(j.slot);
          if (owner < 0) owner = static_cast<int>(s);
          sm.fed = 0;
          if (sm.builder->out().tokens.empty()) who.push_back(s);
        }
        if (owner >= 0) j.slot = -1;
      }
      for (size_t s : who) {
        Sample& sm = j.samples[s];
        GenOutput& o = sm.builder->out();
        row_.assign(z, z + vocab_);
        const int32_t token = sm.sampler.sample(row_.data(), vocab_, j.r.gen.prompt, o.tokens);
        if (j.r.gen.logprobs) {
          // Under softmax(logits / temperature) of the unchanged row (temperature 0 counts as 1).
          const float t = j.r.gen.sampling.temperature, inv_t = t > 0 ? 1.0f / t : 1.0f;
          sm.delta.policy_logprobs.push_back(
              static_cast<float>(log_normalizer(z, vocab_, inv_t).logprob(z, token, inv_t)));
        }
        const size_t before = o.tokens.size();
        sm.builder->push(token);
        if (o.tokens.size() > before) {
          sm.delta.tokens.push_back(token);
          if (j.r.top_logprobs >= 0)
            sm.delta.logprobs.push_back(logprob_of(z, token, j.r.top_logprobs));
        }
        ++generated;
        if (sm.builder->done()) {
          sm.delta.finish_reason = o.finish_reason;
          sm.delta.eos_token = o.eos_token;
        }
      }
    }
  }
  // Finished samples free their slots, the counts are brought up to date, then the deltas go
  // out (so that a client that got its last token sees counts that include it), and finished
  // requests leave.
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
        for (Sample& sm : jp->samples) {
          sm.delta.error = e.what();
          sm.delta.exception = std::current_exception();
        }
        finish_job_samples(*jp, "error");
        for (Sample& sm : jp->samples)
          if (sm.slot >= 0) cache_.free_sequence(sm.slot);
        if (!jp->decoding && jp->slot >= 0) cache_.free_sequence(jp->slot);
      }
      running_.clear();
      running_seqs_ = 0;
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
