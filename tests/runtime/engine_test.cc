// The serving engine (continuous batching, chunked prefill, paged cache) against the plainest
// decoding loop, one sequence alone (written out below): the same requests give the same tokens
// however they are batched, chunked, interleaved or preempted; cancelled requests free their
// sequences; the queue and the KV budget are enforced.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "fixtures.h"
#include "models/deepseek_v3.h"
#include "runtime/engine.h"
#include "runtime/generator.h"

namespace r1::runtime {
namespace {

using r1::testing::fixture_dir;

// Collects one request's deltas; wait() blocks until every sample has finished.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::map<size_t, std::vector<int32_t>> tokens;
  std::map<size_t, std::string> finish;
  std::map<size_t, std::vector<TokenLogprob>> logprobs;
  int64_t cached = 0;  // prompt tokens served from the prefix cache
  size_t n = 1;

  std::function<void(const SampleDelta&)> sink() {
    return [this](const SampleDelta& d) {
      std::lock_guard<std::mutex> l(mu);
      auto& t = tokens[d.sample];
      t.insert(t.end(), d.tokens.begin(), d.tokens.end());
      auto& lp = logprobs[d.sample];
      lp.insert(lp.end(), d.logprobs.begin(), d.logprobs.end());
      if (!d.finish_reason.empty()) finish[d.sample] = d.finish_reason;
      cached += d.cached_prompt_tokens;
      cv.notify_all();
    };
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return finish.size() == n; }));
  }
};

// Sample j of request r decoded alone: the whole prompt in one forward pass, then one token per
// pass, drawn by a sampler of seed + j, until max_tokens.
std::vector<int32_t> alone(models::Model& m, const GenRequest& r, int64_t j,
                           DType kv = DType::F32) {
  models::KvCache cache = m.new_cache();
  cache.set_dtype(kv);
  const int seq = cache.add_sequence();
  SamplingParams sp = r.sampling;
  sp.seed += static_cast<uint64_t>(j);
  Sampler sampler(sp);
  const int64_t vocab = m.config().vocab;
  models::Batch b;
  for (size_t t = 0; t < r.prompt.size(); ++t)
    b.add(r.prompt[t], static_cast<int32_t>(t), seq, t + 1 == r.prompt.size());
  std::vector<int32_t> out;
  for (;;) {
    Tensor logits = m.forward(b, cache);
    std::vector<float> row(logits.ptr<float>(), logits.ptr<float>() + vocab);
    out.push_back(sampler.sample(row.data(), vocab, r.prompt, out));
    if (static_cast<int64_t>(out.size()) == r.max_tokens) return out;
    b = models::Batch();
    b.add(out.back(), static_cast<int32_t>(r.prompt.size() + out.size() - 1), seq, true);
  }
}

GenRequest request(size_t i, int64_t prompt_len, float temperature, int64_t max_tokens) {
  GenRequest r;
  for (int64_t t = 0; t < prompt_len; ++t)
    r.prompt.push_back(static_cast<int32_t>((t * 37 + i * 11 + 5) % 251));
  r.sampling.temperature = temperature;
  r.sampling.seed = 100 + i;
  r.max_tokens = max_tokens;
  return r;
}

// Requests of different prompt lengths, greedy and sampled, submitted together and while others
// run, with a step budget small enough that prompts are prefilled in chunks beside decoding
// sequences: each gets the tokens it gets alone.
TEST(Engine, ContinuousBatchingEqualsAlone) {
  for (const char* fixture : {"qwen2-f32", "dsv3-bf16"}) {
    auto model = models::load_model(fixture_dir(fixture));
    std::vector<GenRequest> reqs;
    for (size_t i = 0; i < 6; ++i)
      reqs.push_back(request(i, 3 + 9 * static_cast<int64_t>(i), i % 2 ? 1.0f : 0.0f, 10 + i));
    reqs[3].n = 3;  // samples sharing one prefill
    EngineOptions opt;
    opt.step_tokens = 8;
    opt.max_running = 6;  // fewer than the 8 sequences: some wait for others to finish
    std::vector<std::unique_ptr<Collector>> got;  // outlives the engine that calls it
    Engine engine(*model, nullptr, {}, opt);
    for (size_t i = 0; i < reqs.size(); ++i) {
      got.push_back(std::make_unique<Collector>());
      got.back()->n = static_cast<size_t>(reqs[i].n);
      ASSERT_NE(engine.submit({reqs[i], i == 2 ? 2 : -1, got.back()->sink()}), nullptr);
      if (i == 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& c : got) c->wait();
    for (int k = 0; k < 200 && engine.stats().running != 0; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (size_t i = 0; i < reqs.size(); ++i)
      for (int64_t s = 0; s < reqs[i].n; ++s) {
        EXPECT_EQ(got[i]->tokens[s], alone(*model, reqs[i], s))
            << fixture << " request " << i << " sample " << s;
        EXPECT_EQ(got[i]->finish[s], "length");
      }
    // Logprobs were asked for request 2: one per token, the chosen token's entry consistent with
    // its top list (greedy: the chosen token is the most likely).
    ASSERT_EQ(got[2]->logprobs[0].size(), got[2]->tokens[0].size());
    for (const TokenLogprob& t : got[2]->logprobs[0]) {
      ASSERT_EQ(t.top.size(), 2u);
      EXPECT_EQ(t.top[0].first, t.id);
      EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
      EXPECT_LE(t.top[1].second, t.top[0].second);
      EXPECT_LT(t.logprob, 0.0f);
    }
    const EngineStats st = engine.stats();
    EXPECT_EQ(st.running, 0);
    EXPECT_EQ(st.kv_blocks_used, 0);
    EXPECT_GT(st.generated_tokens, 0);
  }
}

// With bf16 KV rows the engine still gives what one sequence alone gets with bf16 rows.
TEST(Engine, Bf16CacheEqualsAlone) {
  for (const char* fixture : {"qwen2-f32", "dsv3-bf16"}) {
    auto model = models::load_model(fixture_dir(fixture));
    std::vector<GenRequest> reqs;
    for (size_t i = 0; i < 4; ++i) reqs.push_back(request(i, 5 + 11 * i, i % 2 ? 1.0f : 0.0f, 12));
    std::vector<std::unique_ptr<Collector>> got;
    EngineOptions opt;
    opt.kv_dtype = DType::BF16;
    opt.step_tokens = 16;
    Engine engine(*model, nullptr, {}, opt);
    for (const GenRequest& r : reqs) {
      got.push_back(std::make_unique<Collector>());
      engine.submit({r, -1, got.back()->sink()});
    }
    // All done before the references run: the model is not used from two threads at once.
    for (auto& c : got) c->wait();
    for (size_t i = 0; i < reqs.size(); ++i)
      EXPECT_EQ(got[i]->tokens[0], alone(*model, reqs[i], 0, DType::BF16))
          << fixture << " request " << i;
  }
}

// A prompt seen before is prefilled only past its cached whole blocks (16 positions each), and
// gives the same tokens; a prompt that shares a prefix reuses that prefix's blocks.
TEST(Engine, PrefixCacheServesRepeatedPrompts) {
  for (const char* fixture : {"qwen2-f32", "dsv3-bf16"}) {
    auto model = models::load_model(fixture_dir(fixture));
    GenRequest a = request(0, 40, 0.0f, 6), c = request(1, 40, 0.0f, 6);
    std::copy_n(a.prompt.begin(), 20, c.prompt.begin());  // shares its first 20 tokens
    Collector ra, rb, rc;
    Engine engine(*model, nullptr, {}, EngineOptions{});
    engine.submit({a, -1, ra.sink()});
    ra.wait();
    engine.submit({a, -1, rb.sink()});
    rb.wait();
    engine.submit({c, -1, rc.sink()});
    rc.wait();
    EXPECT_EQ(ra.cached, 0) << fixture;
    EXPECT_EQ(rb.cached, 32) << fixture;
    EXPECT_EQ(rc.cached, 16) << fixture;
    EXPECT_EQ(ra.tokens[0], alone(*model, a, 0)) << fixture;
    EXPECT_EQ(rb.tokens[0], ra.tokens[0]) << fixture;
    EXPECT_EQ(rc.tokens[0], alone(*model, c, 0)) << fixture;
    EXPECT_EQ(engine.stats().cached_prompt_tokens, 48);
  }
}

// A budget too small for every running request at full length: the newest is preempted (its
// blocks freed), waits, feeds its reply again and continues; every request still gets exactly
// the tokens it gets alone.
TEST(Engine, PreemptionKeepsEveryAnswer) {
  for (const char* fixture : {"qwen2-f32", "dsv3-bf16"}) {
    auto model = models::load_model(fixture_dir(fixture));
    std::vector<GenRequest> reqs;
    for (size_t i = 0; i < 6; ++i) reqs.push_back(request(i, 20, i % 2 ? 1.0f : 0.0f, 60));
    reqs[1].n = 2;
    std::vector<std::unique_ptr<Collector>> got;
    EngineOptions opt;
    opt.max_running = 8;
    // 14 blocks of 16 positions: the n = 2 request alone may need 2 + 2 * 5 = 12.
    opt.kv_budget_bytes = 14 * model->new_cache().bytes_per_block();
    Engine engine(*model, nullptr, {}, opt);
    for (const GenRequest& r : reqs) {
      got.push_back(std::make_unique<Collector>());
      got.back()->n = static_cast<size_t>(r.n);
      ASSERT_NE(engine.submit({r, -1, got.back()->sink()}), nullptr);
    }
    for (auto& c : got) c->wait();
    for (size_t i = 0; i < reqs.size(); ++i)
      for (int64_t s = 0; s < reqs[i].n; ++s) {
        EXPECT_EQ(got[i]->tokens[s], alone(*model, reqs[i], s))
            << fixture << " request " << i << "." << s;
        EXPECT_EQ(got[i]->finish[s], "length");
      }
    EXPECT_GT(engine.stats().preemptions, 0) << fixture;
  }
}

TEST(Engine, CancelFreesTheSequence) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  EngineOptions opt;
  opt.max_running = 1;
  Collector a, b;
  Engine engine(*model, nullptr, {}, opt);
  // a takes at least 5 ms a token, so that it still runs (its context holds 256 tokens) when
  // cancelled; without that a fast machine finishes it within the 50 ms below
  auto slow_a = [sink = a.sink()](const SampleDelta& d) {
    sink(d);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto ta = engine.submit({request(0, 5, 1.0f, 100000), -1, slow_a});
  auto tb = engine.submit({request(1, 5, 0.0f, 4), -1, b.sink()});  // waits for a's slot
  ASSERT_TRUE(ta && tb);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard<std::mutex> l(b.mu);
    EXPECT_TRUE(b.tokens.empty()) << "b waits while a holds the only slot";
  }
  ta->cancel();
  a.wait();
  b.wait();
  EXPECT_EQ(a.finish[0], "cancelled");
  EXPECT_EQ(b.finish[0], "length");
  EXPECT_EQ(b.tokens[0].size(), 4u);
  // The engine updates its counts just after the step that sent the last delta.
  for (int i = 0; i < 200 && engine.stats().running != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(engine.stats().running, 0);
}

TEST(Engine, QueueAndBudgetLimits) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  EngineOptions opt;
  opt.max_running = 1;
  opt.max_waiting = 1;
  // 8 blocks of 16 positions: a request of 5 + 50 tokens needs 1 + 4 + 1 at most.
  opt.kv_budget_bytes = 8 * model->new_cache().bytes_per_block();
  Collector a, b, c;
  Engine engine(*model, nullptr, {}, opt);
  // a's first delta holds the engine's loop until the checks below are done, so that a is
  // running and b waiting whatever the machine's speed (a sleep made this test flaky under load).
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool started = false, released = false;
    void release() {
      std::lock_guard<std::mutex> l(mu);
      released = true;
      cv.notify_all();
    }
    ~Gate() { release(); }
  } gate;
  auto a_sink = a.sink();
  auto ta = engine.submit({request(0, 5, 1.0f, 50), -1, [&](const SampleDelta& d) {
                             {
                               std::unique_lock<std::mutex> l(gate.mu);
                               if (!gate.started) {
                                 gate.started = true;
                                 gate.cv.notify_all();
                                 gate.cv.wait(l, [&] { return gate.released; });
                               }
                             }
                             a_sink(d);
                           }});
  ASSERT_TRUE(ta);
  {
    std::unique_lock<std::mutex> l(gate.mu);
    ASSERT_TRUE(gate.cv.wait_for(l, std::chrono::seconds(60), [&] { return gate.started; }));
  }
  auto tb = engine.submit({request(1, 5, 1.0f, 50), -1, b.sink()});  // queued
  ASSERT_TRUE(tb);
  EXPECT_EQ(engine.submit({request(2, 5, 1.0f, 50), -1, c.sink()}), nullptr) << "queue full";
  // A request that can never fit the budget is refused outright.
  EXPECT_THROW(engine.submit({request(3, 60, 1.0f, 50), -1, c.sink()}), Error);
  GenRequest empty;
  EXPECT_THROW(engine.submit({empty, -1, c.sink()}), Error);
  GenRequest too_many = request(4, 5, 1.0f, 5);
  too_many.n = 2;
  EXPECT_THROW(engine.submit({too_many, -1, c.sink()}), Error);
  gate.release();
  a.wait();
  b.wait();
}

// stop() ends running and queued requests, each with a final "cancelled" delta.
TEST(Engine, StopEndsEverything) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  EngineOptions opt;
  opt.max_running = 1;
  Collector a, b;
  Engine engine(*model, nullptr, {}, opt);
  // As in CancelFreesTheSequence: a takes at least 5 ms a token, so that it still runs (256 tokens
  // of context) when stopped; without that a fast machine finished it within the 30 ms below.
  auto slow_a = [sink = a.sink()](const SampleDelta& d) {
    sink(d);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  engine.submit({request(0, 5, 1.0f, 100000), -1, slow_a});
  engine.submit({request(1, 5, 1.0f, 100000), -1, b.sink()});
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  engine.stop();
  a.wait();
  b.wait();
  EXPECT_EQ(a.finish[0], "cancelled");
  EXPECT_EQ(b.finish[0], "cancelled");
  EXPECT_THROW(engine.submit({request(2, 5, 1.0f, 5), -1, a.sink()}), Error);
}

// Offline generation on the engine: with fewer sequence slots than samples, requests wait and
// join as others finish; each request reaches on_done once, with all its samples, each equal to
// the sample decoded alone; run() gives the same outputs in request order.
TEST(Generator, RunEachSchedulesEveryRequestOnce) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  std::vector<GenRequest> reqs;
  for (size_t i = 0; i < 7; ++i)
    reqs.push_back(request(i, 4 + 5 * static_cast<int64_t>(i), i % 2 ? 1.0f : 0.0f, 3 + 2 * i));
  reqs[2].n = 3;
  reqs[5].n = 2;
  Generator gen(*model, nullptr, {});
  std::map<size_t, std::vector<GenOutput>> got;
  gen.run_each(reqs, 3, [&](size_t q, std::vector<GenOutput>&& outs) {
    EXPECT_EQ(got.count(q), 0u) << "request " << q << " twice";
    got[q] = std::move(outs);
  });
  ASSERT_EQ(got.size(), reqs.size());
  const std::vector<GenOutput> all = gen.run(reqs);
  size_t k = 0;
  for (size_t q = 0; q < reqs.size(); ++q) {
    ASSERT_EQ(got[q].size(), static_cast<size_t>(reqs[q].n));
    for (int64_t s = 0; s < reqs[q].n; ++s, ++k) {
      EXPECT_EQ(got[q][s].tokens, alone(*model, reqs[q], s)) << q << "." << s;
      EXPECT_EQ(got[q][s].finish_reason, "length");
      EXPECT_EQ(got[q][s].prompt_tokens, static_cast<int64_t>(reqs[q].prompt.size()));
      EXPECT_EQ(all[k].tokens, got[q][s].tokens) << q << "." << s;
    }
  }
  // Over both calls: each prompt computed once (its samples share it), and every reply token fed
  // back but the last.
  int64_t prompts = 0, fed = 0;
  for (size_t q = 0; q < reqs.size(); ++q) {
    prompts += static_cast<int64_t>(reqs[q].prompt.size());
    for (const GenOutput& o : got[q]) fed += static_cast<int64_t>(o.tokens.size()) - 1;
  }
  EXPECT_EQ(gen.stats().prefill_tokens, 2 * prompts);
  EXPECT_EQ(gen.stats().decode_tokens, 2 * fed);
  EXPECT_THROW(gen.run_each(reqs, 2, [](size_t, std::vector<GenOutput>&&) {}), Error);
}

}  // namespace
}  // namespace r1::runtime
