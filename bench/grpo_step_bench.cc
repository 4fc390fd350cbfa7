// One GRPO update timed in r1: the policy-gradient forward and backward over a fixed batch of
// completions (with old and reference log-probabilities, beta > 0: the reference forward
// included) and the AdamW step, as `r1 train grpo` runs it after its rollouts. The PyTorch side,
// bench/torch_grpo.py, times the same work on the same model and the same batch (written here as
// JSON). See bench/grpo_vs_torch.sh.
//
// usage: grpo_step_bench MODEL_DIR BATCH_JSON_OUT STEPS THREADS [PROMPTS GROUP PROMPT_LEN
// COMPLETION_LEN] prints one JSON line {"side": "r1", "threads", "tokens_per_step", "seconds":
// [...], "median"}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/threads.h"
#include "models/model.h"
#include "train/policy_loss.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  using namespace r1;
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s MODEL_DIR BATCH_JSON STEPS THREADS [P G PROMPT COMPLETION]\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1], batch_json = argv[2];
  const int steps = std::atoi(argv[3]);
  set_num_threads(std::atoi(argv[4]));
  const int P = argc > 5 ? std::atoi(argv[5]) : 4, G = argc > 6 ? std::atoi(argv[6]) : 8;
  const int prompt_len = argc > 7 ? std::atoi(argv[7]) : 64;
  const int completion_len = argc > 8 ? std::atoi(argv[8]) : 128;
  models::LoadOptions lo;
  lo.trainable = true;
  auto model = models::load_model(dir, lo);
  const int64_t V = model->config().vocab;

  // The batch: P prompts of G completions of varied length, rewards 0/1, and old / reference
  // log-probabilities near the current ones (so ratios and the KL term are not trivial).
  SplitMix64 rng(42);
  std::vector<train::PolicyExample> ex;
  std::vector<double> rewards;
  for (int p = 0; p < P; ++p) {
    std::vector<int32_t> prompt;
    for (int t = 0; t < prompt_len; ++t)
      prompt.push_back(static_cast<int32_t>(rng.uniform(3, V - 1)));
    for (int g = 0; g < G; ++g) {
      train::PolicyExample e;
      e.ids = prompt;
      const int len = completion_len / 2 + static_cast<int>(rng.uniform(0, completion_len / 2));
      for (int t = 0; t < len; ++t) e.ids.push_back(static_cast<int32_t>(rng.uniform(3, V - 1)));
      e.prompt_len = prompt_len;
      ex.push_back(e);
      rewards.push_back(static_cast<double>(rng.uniform(0, 1)));
    }
  }
  const auto adv = train::group_advantages(rewards, G, train::Advantage::Grpo);
  std::vector<int64_t> lengths;
  for (const auto& e : ex) lengths.push_back(e.completion_len());
  const auto w = train::aggregation_weights(lengths, train::Aggregation::SequenceMean, 0);
  train::TrainerConfig tc;
  tc.schedule = {1e-5, 0, steps + 1, 1.0};
  train::Trainer tr(*model, tc);
  std::vector<const train::PolicyExample*> all;
  for (auto& e : ex) all.push_back(&e);
  const auto now = tr.completion_logprobs(all, 1.0f, 1 << 30);
  for (size_t i = 0; i < ex.size(); ++i) {
    ex[i].advantage = adv[i];
    ex[i].weight = w[i];
    for (float x : now[i]) {
      ex[i].old.push_back(x + static_cast<float>(rng.unit() - 0.5) * 0.2f);
      ex[i].ref.push_back(x + static_cast<float>(rng.unit() - 0.5) * 0.2f);
    }
  }
  nlohmann::json j;
  for (size_t i = 0; i < ex.size(); ++i)
    j["examples"].push_back({{"ids", ex[i].ids},
                             {"prompt_len", ex[i].prompt_len},
                             {"advantage", ex[i].advantage},
                             {"weight", ex[i].weight},
                             {"old", ex[i].old},
                             {"ref", ex[i].ref}});
  std::ofstream(batch_json) << j.dump();

  train::PolicyLossConfig cfg;
  cfg.beta = 0.04;
  int64_t tokens = 0;
  for (const auto& e : ex) tokens += static_cast<int64_t>(e.ids.size());
  std::vector<double> seconds;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    // The reference forward of the step (r1 train grpo swaps the reference weights in; the
    // weights are the same here, the work is the same).
    tr.completion_logprobs(all, 1.0f, 1 << 30);
    tr.policy_forward_backward({all}, cfg, 1.0f);
    tr.update();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted(seconds.begin() + std::min<size_t>(1, seconds.size() - 1),
                             seconds.end());  // the first step warms up
  std::sort(sorted.begin(), sorted.end());
  nlohmann::json out = {{"side", "r1"},
                        {"threads", std::atoi(argv[4])},
                        {"tokens_per_step", tokens},
                        {"seconds", seconds},
                        {"median", sorted[sorted.size() / 2]}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
