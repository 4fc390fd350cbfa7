#include "runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>

#include "core/error.h"
#include "runtime/engine.h"

namespace r1::runtime {

Generator::Generator(models::Model& model, const tok::Tokenizer* tokenizer,
                     std::vector<int32_t> eos_ids, DType kv_dtype)
    : model_(model), tok_(tokenizer), eos_(std::move(eos_ids)), kv_dtype_(kv_dtype) {}

std::vector<GenOutput> Generator::run(const std::vector<GenRequest>& reqs,
                                      const TextCallback& on_text,
                                      const std::atomic<bool>* cancel) {
  std::vector<size_t> first;
  size_t total = 0;
  for (const GenRequest& r : reqs) {
    first.push_back(total);
    total += static_cast<size_t>(std::max<int64_t>(r.n, 0));
  }
  std::vector<GenOutput> out(total);
  run_each(
      reqs, std::max<int64_t>(1, static_cast<int64_t>(total)),
      [&](size_t q, std::vector<GenOutput>&& o) {
        std::move(o.begin(), o.end(), out.begin() + static_cast<std::ptrdiff_t>(first[q]));
      },
      on_text, cancel);
  return out;
}

void Generator::run_each(const std::vector<GenRequest>& reqs, int64_t max_running,
                         const DoneCallback& on_done, const TextCallback& on_text,
                         const std::atomic<bool>* cancel) {
  std::vector<size_t> first;  // output index of each request's first sample (for on_text)
  size_t total = 0;
  int64_t longest = 0;
  for (size_t q = 0; q < reqs.size(); ++q) {
    const GenRequest& r = reqs[q];
    if (r.n < 1 || r.n > max_running)
      fail_internal("request ", q, " has n = ", r.n, " samples; at most ", max_running, " run");
    first.push_back(total);
    total += static_cast<size_t>(r.n);
    longest = std::max(longest, static_cast<int64_t>(r.prompt.size()));
  }
  if (reqs.empty()) return;

  // What the engine's thread hands over; declared before the engine, which calls into it until
  // it is destroyed.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<GenOutput>> outs(reqs.size());
  std::vector<int64_t> left(reqs.size());
  std::deque<size_t> done;  // finished requests not yet given to on_done
  std::exception_ptr error;

  EngineOptions opt;
  opt.max_running = max_running;
  opt.max_waiting = static_cast<int64_t>(reqs.size());
  // A whole prompt per forward pass when it fits (as a single request has always been run), and
  // room to keep the prompts of the latest requests for those that repeat them (the samples of a
  // problem split over several requests).
  opt.step_tokens = std::max<int64_t>(2048, longest);
  opt.kv_cached_tokens = 4 * longest + 256;
  opt.kv_dtype = kv_dtype_;
  Engine engine(model_, tok_, eos_, opt);
  std::vector<std::shared_ptr<EngineTicket>> tickets;
  for (size_t q = 0; q < reqs.size(); ++q) {
    outs[q].resize(static_cast<size_t>(reqs[q].n));
    for (GenOutput& o : outs[q]) o.prompt_tokens = static_cast<int64_t>(reqs[q].prompt.size());
    left[q] = reqs[q].n;
    EngineRequest er;
    er.gen = reqs[q];
    er.on_delta = [&, q](const SampleDelta& d) {
      // Engine thread. A request's outputs are touched here only until its last sample ends.
      GenOutput& o = outs[q][d.sample];
      o.tokens.insert(o.tokens.end(), d.tokens.begin(), d.tokens.end());
      o.logprobs.insert(o.logprobs.end(), d.policy_logprobs.begin(), d.policy_logprobs.end());
      o.text += d.text;
      if (on_text && !d.text.empty()) on_text(first[q] + d.sample, d.text);
      if (d.finish_reason.empty()) return;
      o.finish_reason = d.finish_reason;
      o.eos_token = d.eos_token;
      std::lock_guard<std::mutex> l(mu);
      if (d.finish_reason == "error" && !error)
        error = d.exception
                    ? d.exception
                    : std::make_exception_ptr(std::runtime_error("generation failed: " + d.error));
      if (--left[q] == 0) done.push_back(q);
      cv.notify_all();
    };
    auto ticket = engine.submit(std::move(er));
    if (!ticket) fail_internal("the generation engine refused request ", q);
    tickets.push_back(std::move(ticket));
  }

  size_t delivered = 0;
  bool cancelled = false;
  std::unique_lock<std::mutex> l(mu);
  while (delivered < reqs.size()) {
    cv.wait_for(l, std::chrono::milliseconds(50), [&] { return !done.empty(); });
    if (!cancelled && (error || (cancel && cancel->load()))) {
      cancelled = true;
      for (auto& t : tickets) t->cancel();
    }
    while (!done.empty()) {
      const size_t q = done.front();
      done.pop_front();
      ++delivered;
      if (error) continue;  // the run fails below; the rest only drains
      l.unlock();
      on_done(q, std::move(outs[q]));
      l.lock();
    }
  }
  l.unlock();
  const EngineStats st = engine.stats();
  stats_.prefill_tokens += st.prefilled_tokens;
  stats_.decode_tokens += st.decoded_tokens;
  stats_.prefill_seconds += st.prefill_seconds;
  stats_.decode_seconds += st.decode_seconds;
  if (error) std::rethrow_exception(error);
}

}  // namespace r1::runtime
