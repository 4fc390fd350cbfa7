#include "train/grpo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json_util.h"
#include "core/memory.h"
#include "core/random.h"
#include "eval/countdown.h"
#include "eval/loaders.h"
#include "eval/rollout.h"
#include "eval/stats.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "models/param_count.h"
#include "ops/ops.h"
#include "tasks/arithmetic.h"
#include "tasks/countdown.h"
#include "tokenizer/stop_ids.h"
#include "train/checkpoint.h"
#include "train/plot.h"
#include "train/problems.h"
#include "train/trainer.h"

namespace r1::train {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string duration(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return b;
}

// The reference policy: a copy of the trained tensors (the model's weights, or its adapters)
// that can be put in their slots for a forward and taken out again (pointers swapped, nothing
// copied). Slots without a name alias a named one with the same storage (tied weights).
using Slots = std::vector<std::pair<std::string, Tensor*>>;

Slots model_slots(models::Model& m) {
  Slots out;
  for (auto& s : m.parameter_slots()) out.emplace_back(s.name, s.t);
  return out;
}

class ReferencePolicy {
 public:
  void snapshot(const Slots& slots) {
    weights_.clear();
    for (const auto& [name, t] : slots) {
      if (name.empty() || !t->defined()) continue;
      Tensor c = Tensor::zeros(t->dtype, t->shape);
      std::memcpy(c.data, t->data, t->nbytes());
      weights_[name] = c;
    }
  }
  void load(const std::string& file) {
    io::WeightStore s = io::WeightStore::open_file(file);
    for (auto& [name, t] : weights_) {
      Tensor src = s.get(name);
      if (src.shape != t.shape || src.dtype != t.dtype)
        fail_input(file, ": reference weight ", name, " does not match the model");
      std::memcpy(t.data, src.data, t.nbytes());
    }
  }
  NamedTensors named() const { return NamedTensors(weights_.begin(), weights_.end()); }
  // Exchanges the slots' tensors and these (call twice to undo).
  void swap_into(const Slots& slots) {
    std::map<const void*, Tensor*> by_data;
    for (const auto& [name, t] : slots)
      if (!name.empty() && t->defined()) by_data[t->data] = &weights_.at(name);
    std::vector<std::pair<Tensor*, Tensor>> plan;  // slot -> the tensor it gets
    for (const auto& [name, t] : slots)
      if (t->defined()) plan.push_back({t, *by_data.at(t->data)});
    for (const auto& [name, t] : slots)
      if (!name.empty() && t->defined()) weights_[name] = *t;
    for (auto& [slot, t] : plan) *slot = t;
  }

 private:
  std::map<std::string, Tensor> weights_;
};

// Per-epoch shuffled order of the training problems.
class PromptStream {
 public:
  PromptStream(size_t n, uint64_t seed) : n_(n), seed_(seed) { shuffle(); }
  size_t next() {
    if (cursor_ == n_) {
      ++epoch_;
      cursor_ = 0;
      shuffle();
    }
    return order_[cursor_++];
  }
  void seek(int64_t epoch, int64_t cursor) {
    if (epoch < 0 || cursor < 0 || cursor > static_cast<int64_t>(n_))
      fail_input("data position epoch ", epoch, " prompt ", cursor, " is outside the ", n_,
                 " training problems; was the data changed?");
    epoch_ = epoch;
    cursor_ = static_cast<size_t>(cursor);
    shuffle();
  }
  int64_t epoch() const { return epoch_; }
  int64_t cursor() const { return static_cast<int64_t>(cursor_); }

 private:
  void shuffle() {
    order_.resize(n_);
    for (size_t i = 0; i < n_; ++i) order_[i] = i;
    SplitMix64 rng(seed_ * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(epoch_));
    for (size_t i = n_; i > 1; --i) std::swap(order_[i - 1], order_[rng.next() % i]);
  }
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  size_t cursor_ = 0;
  std::vector<size_t> order_;
};

ordered_json settings(const GrpoOptions& o, uint64_t data_hash) {
  return {{"task", o.task},
          {"data_fnv1a", data_hash},
          {"prompt_style", o.prompt_style},
          {"group", o.group},
          {"prompts", o.prompts},
          {"steps", o.steps},
          {"max_tokens", o.max_tokens},
          {"temperature", o.temperature},
          {"top_p", o.top_p},
          {"lr", o.lr},
          {"min_lr_ratio", o.min_lr_ratio},
          {"warmup", o.warmup},
          {"weight_decay", o.weight_decay},
          {"clip", o.clip},
          {"betas", {o.beta1, o.beta2}},
          {"beta", o.beta},
          {"eps", {o.eps_low, o.eps_high}},
          {"updates", o.updates},
          {"ref_update_every", o.ref_update_every},
          {"advantage", o.advantage},
          {"loss_agg", o.loss_agg},
          {"sequence_ratio", o.sequence_ratio},
          {"dynamic_sampling", o.dynamic_sampling},
          {"overlong_buffer", o.overlong_buffer},
          {"reward_weights", {o.accuracy_weight, o.format_weight}},
          {"seed", o.seed},
          {"bf16_matmul", ops::bf16_matmul()}};
}

// reward.svg and length.svg from train_log.jsonl (across resumes: the last record of a step wins).
void write_plots(const std::string& out_dir, const std::string& title) {
  std::map<double, double> reward, acc, length, eval_acc;
  std::ifstream in(path_join(out_dir, "train_log.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    const double s = j["step"].get<double>();
    auto take = [&](const char* key, std::map<double, double>& m) {
      if (j.contains(key) && j[key].is_number()) m[s] = j[key].get<double>();
    };
    take("reward", reward);
    take("accuracy", acc);
    take("response_length", length);
    take("eval_pass@1", eval_acc);
  }
  auto pts = [](const std::map<double, double>& m) {
    return std::vector<std::pair<double, double>>(m.begin(), m.end());
  };
  write_file_atomic(path_join(out_dir, "reward.svg"),
                    series_svg({{"reward (mean)", pts(reward), false},
                                {"accuracy (training samples)", pts(acc), false},
                                {"held-out pass@1", pts(eval_acc), true}},
                               title, "reward / accuracy"));
  write_file_atomic(path_join(out_dir, "length.svg"),
                    series_svg({{"mean response length", pts(length), false}}, title, "tokens"));
}

}  // namespace

bool format_ok(const std::string& c, const std::string& style, const std::string& task) {
  if (style == "r1-zero") {
    // <think> ... </think> <answer> ... </answer>, with only whitespace around the parts.
    const size_t a = c.find_first_not_of(" \t\n");
    if (a == std::string::npos || c.compare(a, 7, "<think>") != 0) return false;
    const size_t t = c.find("</think>", a);
    if (t == std::string::npos || c.find("<think>", a + 7) < t) return false;
    const size_t o = c.find_first_not_of(" \t\n", t + 8);
    if (o == std::string::npos || c.compare(o, 8, "<answer>") != 0) return false;
    const size_t e = c.find("</answer>", o);
    return e != std::string::npos && c.find_first_not_of(" \t\n", e + 9) == std::string::npos;
  }
  // Chat: the template opened <think>; the reply closes it once and answers after it.
  const size_t t = c.find("</think>");
  if (t == std::string::npos || c.find("</think>", t + 8) != std::string::npos ||
      c.find("<think>") != std::string::npos)
    return false;
  const std::string after = c.substr(t + 8);
  if (after.find("\\boxed{") != std::string::npos) return true;
  return task == "countdown" && after.find("<answer>") != std::string::npos;
}

void run_grpo(const GrpoOptions& o) {
  if (o.model_dir.empty()) fail_usage("-m DIR (the policy to train) is required");
  if (o.out_dir.empty()) fail_usage("--out DIR is required");
  const eval::PromptStyle style = eval::parse_prompt_style(o.prompt_style);
  const Advantage adv_kind = parse_advantage(o.advantage);
  const Aggregation agg = parse_aggregation(o.loss_agg);
  if (adv_kind == Advantage::Rloo && o.group < 2) fail_usage("--advantage rloo needs --group >= 2");
  const auto latest = latest_checkpoint(o.out_dir);
  if (o.resume && !latest)
    fail_usage("--resume: no checkpoint under ", path_join(o.out_dir, "checkpoints"));
  if (!o.resume && latest)
    fail_usage(o.out_dir,
               " already holds checkpoints; pass --resume to continue, or choose a new --out");

  // Problems: training (shuffled per epoch) and held-out.
  const std::string verifier_task = o.task == "arithmetic" ? "math" : o.task;
  auto verifier = eval::make_verifier(verifier_task);
  const std::vector<eval::Problem> train =
      task_problems(o.task, o.data, tasks::Split::Train, 20000, o.seed);
  if (train.empty()) fail_input(o.data, ": no problems");
  std::vector<eval::Problem> held;
  if (!o.eval_data.empty() || ((o.task == "countdown" || o.task == "arithmetic") && o.eval_every))
    held = task_problems(o.task, o.eval_data, tasks::Split::Test, static_cast<size_t>(o.eval_limit),
                         o.seed + 1);
  if (o.eval_limit > 0 && static_cast<int64_t>(held.size()) > o.eval_limit)
    held.resize(o.eval_limit);
  uint64_t data_hash = 0;
  for (const auto& p : train) data_hash = fnv1a64(std::to_string(data_hash) + p.id + p.prompt);
  const ordered_json want = settings(o, data_hash);

  // The policy: f32 master weights that the engine samples from and the trainer updates (or,
  // with LoRA, the base in its stored dtype plus f32 adapters, which are what is trained).
  const bool lora = o.lora_rank > 0;
  const std::string source = latest && !lora ? *latest : o.model_dir;
  const io::ModelConfig mcfg = io::ModelConfig::load(source);
  if (!lora)
    check_memory(mul_sat(models::count_params(mcfg, 4).total_params, o.beta > 0 ? 20 : 16),
                 "reinforcement learning on this model (f32 weights, gradients, AdamW moments" +
                     std::string(o.beta > 0 ? " and a reference copy)" : ")"));
  models::LoadOptions lo;
  lo.trainable = !lora;
  auto model = models::load_model(source, lo);
  std::shared_ptr<models::LoraAdapters> adapters;
  if (lora)
    adapters = attach_lora(
        *model, latest,
        models::LoraAdapters::make_config(o.lora_rank, o.lora_alpha, o.lora_targets), o.seed);
  auto trained_slots = [&] { return lora ? adapters->slots() : model_slots(*model); };
  tok::Tokenizer tk = tok::Tokenizer::load(source);
  std::unique_ptr<tmpl::ChatTemplate> chat;
  if (style == eval::PromptStyle::Chat)
    chat = std::make_unique<tmpl::ChatTemplate>(tmpl::ChatTemplate::load(source));
  const std::vector<int32_t> eos = tok::stop_ids(source, mcfg, &tk);
  TrainerConfig tc;
  tc.adam = {o.beta1, o.beta2, 1e-8, o.weight_decay};
  // The schedule counts optimizer updates: `updates` per step.
  tc.schedule = {o.lr, o.warmup * o.updates, o.steps * o.updates, o.min_lr_ratio};
  tc.clip_norm = o.clip;
  std::unique_ptr<Trainer> trainer_ptr =
      lora ? std::make_unique<Trainer>(*model, tc, adapters->parameters())
           : std::make_unique<Trainer>(*model, tc);
  Trainer& trainer = *trainer_ptr;
  const std::map<std::string, std::string> side = model_side_files(o.model_dir);
  PromptStream stream(train.size(), o.seed);
  ReferencePolicy ref;
  if (o.beta > 0) ref.snapshot(trained_slots());

  if (latest) {
    const std::string state_path = path_join(*latest, "trainer_state.json");
    const json st = read_json_file(state_path);
    const json& old = json_field(st, "settings", state_path);
    for (auto it = want.begin(); it != want.end(); ++it) {
      // Checkpoints from before a setting existed ran with its default (bf16_matmul: off).
      const json was = old.is_object() && old.contains(it.key()) ? old[it.key()]
                       : it.key() == "bf16_matmul"               ? json(false)
                                                                 : json();
      if (was != json(it.value()))
        fail_usage("--resume: the checkpoint was made with ", it.key(), " = ", was.dump(),
                   ", this run has ", it.value().dump());
    }
    io::WeightStore opt = io::WeightStore::open_file(path_join(*latest, "optimizer.safetensors"));
    for (auto& [name, t] : trainer.optimizer().state_tensors()) {
      Tensor s = opt.get(name);
      if (s.shape != t.shape || s.dtype != DType::F32)
        fail_input(*latest, ": optimizer state ", name, " does not match the model");
      std::memcpy(t.data, s.data, t.nbytes());
    }
    trainer.optimizer().set_steps_done(json_int(st, "step", state_path) * o.updates);
    stream.seek(json_int(st, "epoch", state_path), json_int(st, "cursor", state_path));
    if (o.beta > 0) {
      // The reference is the starting model unless a refresh replaced it (then it was saved).
      const std::string saved = path_join(*latest, "reference.safetensors");
      if (file_exists(saved)) {
        ref.load(saved);
      } else if (lora) {
        ref.snapshot(models::LoraAdapters::create(*model, adapters->config(), o.seed)->slots());
      } else {
        models::LoadOptions start;
        start.trainable = true;
        auto initial = models::load_model(o.model_dir, start);
        ref.snapshot(model_slots(*initial));
      }
    }
    std::fprintf(stderr, "resumed from %s (step %lld)\n", latest->c_str(),
                 static_cast<long long>(trainer.step_index() / o.updates));
  }
  bool ref_is_start = !latest || !file_exists(path_join(*latest, "reference.safetensors"));

  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) fail_input(o.out_dir, ": cannot create folder: ", ec.message());
  std::ofstream log(path_join(o.out_dir, "train_log.jsonl"), std::ios::app);
  eval::RolloutRunner runner(*model, tk, chat.get(), eos);

  auto evaluate = [&](int64_t step) {
    if (held.empty()) return;
    const auto t0 = Clock::now();
    eval::RolloutOptions ro;
    ro.sampling.temperature = static_cast<float>(o.eval_temperature);
    ro.sampling.top_p = static_cast<float>(o.eval_top_p);
    ro.sampling.seed = o.seed + 77;
    ro.max_tokens = o.max_tokens;
    ro.batch = std::max<int64_t>(o.eval_k, 32);
    ro.style = style;
    std::vector<std::pair<size_t, int64_t>> todo;
    for (size_t p = 0; p < held.size(); ++p)
      for (int64_t s = 0; s < o.eval_k; ++s) todo.push_back({p, s});
    std::vector<std::vector<eval::GradedSample>> graded(held.size(),
                                                        std::vector<eval::GradedSample>(o.eval_k));
    runner.run(held, todo, *verifier, ro, [&](eval::Rollout&& r) {
      graded[r.problem][r.sample] = {r.verdict.correct, r.verdict.extracted, r.out.tokens.size(),
                                     r.out.finish_reason == "length"};
    });
    std::vector<size_t> ks = {1};
    if (o.eval_k > 1) ks.push_back(static_cast<size_t>(o.eval_k));
    const eval::EvalSummary sum = eval::summarize(
        graded, ks,
        [&](std::string_view a, std::string_view b) { return verifier->same_answer(a, b); });
    std::fprintf(stderr, "step %lld  held-out pass@1 %.3f  cons@%lld %.3f  length %.1f  (%s)\n",
                 static_cast<long long>(step), sum.pass_at_1, static_cast<long long>(sum.cons_k),
                 sum.cons_at_k, sum.lengths.mean_tokens, duration(seconds_since(t0)).c_str());
    log << ordered_json{{"step", step},
                        {"eval_pass@1", sum.pass_at_1},
                        {"eval_cons@k", sum.cons_at_k},
                        {"eval_k", sum.cons_k},
                        {"eval_length", sum.lengths.mean_tokens},
                        {"eval_truncation", sum.lengths.truncation_rate},
                        {"eval_problems", sum.problems}}
               .dump()
        << "\n";
    log.flush();
  };
  // Steps of RL (each `updates` optimizer updates).
  auto steps_done = [&] { return trainer.step_index() / o.updates; };
  auto save_checkpoint = [&]() {
    const int64_t step = steps_done();
    if (std::filesystem::exists(checkpoint_dir(o.out_dir, step))) return;
    std::map<std::string, std::string> files = side;
    ordered_json st = {
        {"step", step}, {"epoch", stream.epoch()}, {"cursor", stream.cursor()}, {"settings", want}};
    files["trainer_state.json"] = st.dump(2) + "\n";
    std::map<std::string, NamedTensors> tensors = {
        {"optimizer.safetensors", trainer.optimizer().state_tensors()}};
    add_trained_weights(*model, adapters.get(), o.model_dir, files, tensors);
    if (o.beta > 0 && !ref_is_start) tensors["reference.safetensors"] = ref.named();
    write_folder(checkpoint_dir(o.out_dir, step), files, tensors, DType::F32);
    prune_checkpoints(o.out_dir, static_cast<int>(o.keep));
  };

  if (steps_done() == 0 && o.eval_every > 0) evaluate(0);
  const PolicyLossConfig loss_cfg{o.eps_low, o.eps_high, o.beta, o.sequence_ratio};
  const auto t_start = Clock::now();
  const int64_t first = steps_done();
  while (steps_done() < o.steps) {
    const int64_t step = steps_done();
    // Rollouts, with dynamic sampling's refill.
    const auto t_gen = Clock::now();
    struct Group {
      size_t problem;
      std::vector<eval::Rollout> samples;
      std::vector<double> rewards;
    };
    std::vector<Group> kept;
    int64_t drawn = 0, generated_tokens = 0, truncated = 0, formatted = 0, correct = 0, samples = 0;
    int64_t max_len = 0;
    double reward_sum = 0, length_sum = 0;
    const int64_t max_draws = o.dynamic_sampling ? 3 * o.prompts : o.prompts;
    while (static_cast<int64_t>(kept.size()) < o.prompts && drawn < max_draws) {
      const int64_t want_groups = o.prompts - static_cast<int64_t>(kept.size());
      std::vector<size_t> batch;
      for (int64_t i = 0; i < want_groups && drawn < max_draws; ++i, ++drawn)
        batch.push_back(stream.next());
      std::vector<std::pair<size_t, int64_t>> todo;
      for (size_t p : batch)
        for (int64_t s = 0; s < o.group; ++s) todo.push_back({p, s});
      std::map<size_t, Group> groups;
      eval::RolloutOptions ro;
      ro.sampling.temperature = static_cast<float>(o.temperature);
      ro.sampling.top_p = static_cast<float>(o.top_p);
      ro.sampling.seed = o.seed * 0x9e3779b97f4a7c15ull +
                         static_cast<uint64_t>(step) * 0x100000001b3ull +
                         static_cast<uint64_t>(drawn);
      ro.max_tokens = o.max_tokens;
      ro.batch = static_cast<int64_t>(todo.size());
      ro.logprobs = o.updates > 1;
      ro.style = style;
      runner.run(train, todo, *verifier, ro, [&](eval::Rollout&& r) {
        const runtime::GenOutput& out = r.out;
        const bool fmt = format_ok(out.text, o.prompt_style, o.task);
        double reward = o.accuracy_weight * r.verdict.score + o.format_weight * (fmt ? 1.0 : 0.0);
        const int64_t len = static_cast<int64_t>(out.tokens.size());
        if (o.overlong_buffer > 0 && len > o.max_tokens - o.overlong_buffer)
          reward -= std::min(1.0, static_cast<double>(len - (o.max_tokens - o.overlong_buffer)) /
                                      static_cast<double>(o.overlong_buffer));
        ++samples;
        correct += r.verdict.correct;
        formatted += fmt;
        truncated += out.finish_reason == "length";
        generated_tokens += len;
        length_sum += static_cast<double>(len);
        max_len = std::max(max_len, len);
        reward_sum += reward;
        Group& g = groups[r.problem];
        g.problem = r.problem;
        g.rewards.push_back(reward);
        g.samples.push_back(std::move(r));
      });
      for (size_t p : batch) {
        Group& g = groups[p];
        const bool all_equal = std::all_of(g.rewards.begin(), g.rewards.end(),
                                           [&](double x) { return x == g.rewards[0]; });
        if (o.dynamic_sampling && all_equal) continue;
        kept.push_back(std::move(g));
      }
    }
    const double gen_seconds = seconds_since(t_gen);

    // The batch: advantages per group, completions with their old and reference log-probs.
    const auto t_train = Clock::now();
    std::vector<PolicyExample> examples;
    for (const Group& g : kept) {
      const auto adv = group_advantages(g.rewards, o.group, adv_kind);
      for (size_t i = 0; i < g.samples.size(); ++i) {
        const eval::Rollout& r = g.samples[i];
        PolicyExample e;
        e.ids = runner.prompt_ids(train[g.problem], style);
        e.prompt_len = static_cast<int64_t>(e.ids.size());
        e.ids.insert(e.ids.end(), r.out.tokens.begin(), r.out.tokens.end());
        if (r.out.eos_token >= 0) e.ids.push_back(r.out.eos_token);  // learning when to stop
        e.advantage = adv[i];
        if (o.updates > 1) e.old = r.out.logprobs;
        if (e.completion_len() > 0) examples.push_back(std::move(e));
      }
    }
    PolicyStepStats ps;
    double grad_norm = 0, lr = 0;
    if (!examples.empty()) {
      std::vector<int64_t> lengths;
      for (const auto& e : examples) lengths.push_back(e.completion_len());
      const auto w = aggregation_weights(lengths, agg, o.max_tokens + 1);
      for (size_t i = 0; i < examples.size(); ++i) examples[i].weight = w[i];
      std::vector<const PolicyExample*> all;
      for (const auto& e : examples) all.push_back(&e);
      if (o.beta > 0) {
        ref.swap_into(trained_slots());
        const auto ref_lp =
            trainer.completion_logprobs(all, static_cast<float>(o.temperature), o.micro_tokens);
        ref.swap_into(trained_slots());
        for (size_t i = 0; i < examples.size(); ++i) examples[i].ref = ref_lp[i];
      }
      std::vector<std::vector<const PolicyExample*>> micro(1);
      int64_t tokens = 0;
      for (const PolicyExample* e : all) {
        const int64_t n = static_cast<int64_t>(e->ids.size());
        if (!micro.back().empty() && tokens + n > o.micro_tokens) {
          micro.emplace_back();
          tokens = 0;
        }
        micro.back().push_back(e);
        tokens += n;
      }
      for (int64_t u = 0; u < o.updates; ++u) {
        const PolicyStepStats s =
            trainer.policy_forward_backward(micro, loss_cfg, static_cast<float>(o.temperature));
        if (u == 0) ps = s;
        ps.tokens = u == 0 ? s.tokens : ps.tokens + s.tokens;
        std::tie(grad_norm, lr) = trainer.update();
      }
    } else {
      for (int64_t u = 0; u < o.updates; ++u)  // no signal: the step still counts
        std::tie(grad_norm, lr) = trainer.update();
    }
    if (!std::isfinite(ps.loss.loss) || !std::isfinite(grad_norm))
      fail_input("training diverged at step ", step + 1, " (gradient norm ", grad_norm,
                 "); try a lower --lr");
    const double train_seconds = seconds_since(t_train);
    if (o.ref_update_every > 0 && o.beta > 0 && (step + 1) % o.ref_update_every == 0) {
      ref.snapshot(trained_slots());
      ref_is_start = false;
    }

    const int64_t done = steps_done();
    const double tok = static_cast<double>(std::max<int64_t>(1, ps.loss.tokens));
    const double per_step = seconds_since(t_start) / static_cast<double>(done - first);
    ordered_json rec = {
        {"step", done},
        {"reward", samples ? reward_sum / samples : 0.0},
        {"accuracy", samples ? static_cast<double>(correct) / samples : 0.0},
        {"format_rate", samples ? static_cast<double>(formatted) / samples : 0.0},
        {"response_length", samples ? length_sum / samples : 0.0},
        {"response_length_max", max_len},
        {"truncation_rate", samples ? static_cast<double>(truncated) / samples : 0.0},
        {"kl", ps.loss.kl_sum / tok},
        {"clip_fraction", ps.loss.clipped_tokens / tok},
        {"entropy", ps.entropy_sum / tok},
        {"loss", ps.loss.loss},
        {"groups_kept", kept.size()},
        {"prompts_drawn", drawn},
        {"grad_norm", grad_norm},
        {"lr", lr},
        {"gen_seconds", gen_seconds},
        {"train_seconds", train_seconds},
        {"gen_tok_s", generated_tokens / std::max(gen_seconds, 1e-9)},
        {"train_tok_s", static_cast<double>(ps.tokens) / std::max(train_seconds, 1e-9)},
        {"epoch", stream.epoch()}};
    log << rec.dump() << "\n";
    log.flush();
    if (o.log_every > 0 && (done % o.log_every == 0 || done == o.steps))
      std::fprintf(
          stderr,
          "step %lld/%lld  reward %.3f  acc %.3f  format %.2f  len %.0f (max %lld, %.0f%% cut)"
          "  kl %.2e  clip %.3f  entropy %.3f  groups %zu/%lld  gen %.0f tok/s  train %.0f "
          "tok/s  eta %s\n",
          static_cast<long long>(done), static_cast<long long>(o.steps),
          rec["reward"].get<double>(), rec["accuracy"].get<double>(),
          rec["format_rate"].get<double>(), rec["response_length"].get<double>(),
          static_cast<long long>(max_len), 100 * rec["truncation_rate"].get<double>(),
          rec["kl"].get<double>(), rec["clip_fraction"].get<double>(), rec["entropy"].get<double>(),
          kept.size(), static_cast<long long>(drawn), rec["gen_tok_s"].get<double>(),
          rec["train_tok_s"].get<double>(),
          duration(per_step * static_cast<double>(o.steps - done)).c_str());
    if (o.eval_every > 0 && done % o.eval_every == 0) evaluate(done);
    const bool stopping = o.stop_after > 0 && done >= o.stop_after && done < o.steps;
    if ((o.save_every > 0 && done % o.save_every == 0) || stopping) save_checkpoint();
    if (stopping) {
      std::fprintf(stderr, "stopping after step %lld (--stop-after); continue with --resume\n",
                   static_cast<long long>(done));
      write_plots(o.out_dir, "r1 train grpo: " + o.task);
      return;
    }
  }
  if (o.eval_every > 0 && o.steps % o.eval_every != 0) evaluate(o.steps);
  if (o.save_every > 0) save_checkpoint();
  if (lora)
    adapters->save(o.out_dir, o.model_dir);
  else
    write_model_files(o.out_dir, side, model->parameters(true), DType::F32);
  log.close();
  write_plots(o.out_dir, "r1 train grpo: " + o.task);
  std::fprintf(stderr, "done: %lld steps in %s; model written to %s\n",
               static_cast<long long>(o.steps - first), duration(seconds_since(t_start)).c_str(),
               o.out_dir.c_str());
}

}  // namespace r1::train
