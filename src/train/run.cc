#include "train/run.h"

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
#include "io/model_config.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "models/param_count.h"
#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/plot.h"

namespace r1::train {

using nlohmann::ordered_json;

namespace {

std::string duration(double s) {
  char b[32];
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) {
    std::snprintf(b, sizeof b, "%lldh%02lldm", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60));
  } else {
    std::snprintf(b, sizeof b, "%lldm%02llds", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  }
  return b;
}

// The settings a resumed run must share with the run that wrote the checkpoint.
ordered_json settings(const RunOptions& o, int64_t steps, int64_t warmup, uint64_t data_hash,
                      uint64_t tokenizer_hash) {
  return {{"kind", o.kind},
          {"data_fnv1a", std::to_string(data_hash)},
          {"tokenizer_fnv1a", std::to_string(tokenizer_hash)},
          {"seq_len", o.seq_len},
          {"batch_tokens", o.batch_tokens},
          {"accum", o.accum},
          {"steps", steps},
          {"lr", o.lr},
          {"min_lr_ratio", o.min_lr_ratio},
          {"warmup", warmup},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"clip", o.clip},
          {"seed", o.seed},
          {"eval_frac", o.eval_frac},
          {"lora", {o.lora_rank, o.lora_alpha, o.lora_targets}},
          {"bf16_matmul", ops::bf16_matmul()}};
}

// loss.svg from train_log.jsonl (the whole run, across resumes: the last record of a step wins).
void write_loss_plot(const std::string& out_dir, const std::string& title) {
  std::map<int64_t, double> train, eval;
  std::ifstream in(path_join(out_dir, "train_log.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step")) continue;
    if (!j["step"].is_number()) continue;
    if (j.contains("loss") && j["loss"].is_number())
      train[j["step"].get<int64_t>()] = j["loss"].get<double>();
    if (j.contains("eval_loss") && j["eval_loss"].is_number())
      eval[j["step"].get<int64_t>()] = j["eval_loss"].get<double>();
  }
  auto points = [](const std::map<int64_t, double>& m) {
    std::vector<std::pair<double, double>> v;
    for (const auto& [k, x] : m) v.emplace_back(static_cast<double>(k), x);
    return v;
  };
  write_file_atomic(path_join(out_dir, "loss.svg"), loss_svg(points(train), points(eval), title));
}

}  // namespace

double run_training(const RunOptions& o) {
  if (o.model_dir.empty()) fail_usage("-m DIR (the model to train) is required");
  if (o.data.empty()) fail_usage("--data FILE is required");
  if (o.out_dir.empty()) fail_usage("--out DIR is required");
  if (o.seq_len < 2 || o.batch_tokens < 2 || o.accum < 1)
    fail_usage("--seq-len and --batch-tokens must be at least 2 and --accum at least 1");
  if (o.save_dtype != "f32" && o.save_dtype != "bf16")
    fail_usage("--save-dtype must be f32 or bf16");
  const auto latest = latest_checkpoint(o.out_dir);
  if (o.resume && !latest)
    fail_usage("--resume: no checkpoint under ", path_join(o.out_dir, "checkpoints"));
  if (!o.resume && latest)
    fail_usage(o.out_dir,
               " already holds checkpoints; pass --resume to continue, or choose a new --out");

  // The tokenizer and template come from the model folder being trained (on resume, from the
  // checkpoint, which carries copies of them).
  const std::string source = latest ? *latest : o.model_dir;
  tok::Tokenizer tk = tok::Tokenizer::load(source);
  const io::ModelConfig mcfg = io::ModelConfig::load(source);
  const int64_t window = o.kind == "sft" ? o.seq_len : o.seq_len + 1;
  if (window > mcfg.max_position_embeddings)
    fail_usage("--seq-len ", o.seq_len, " needs ", window, " positions but the model has ",
               mcfg.max_position_embeddings, " (max_position_embeddings)");
  DataStats ds;
  std::vector<Example> all;
  if (o.kind == "sft") {
    all = load_sft(o.data, tk, tmpl::ChatTemplate::load(source), o.seq_len, &ds);
  } else {
    all = load_pretrain(o.data, tk, o.seq_len, &ds);
  }
  std::vector<Example> train_ex, eval_ex;
  if (!o.eval_data.empty()) {
    DataStats es;
    train_ex = std::move(all);
    eval_ex = o.kind == "sft"
                  ? load_sft(o.eval_data, tk, tmpl::ChatTemplate::load(source), o.seq_len, &es)
                  : load_pretrain(o.eval_data, tk, o.seq_len, &es);
  } else {
    // Every k-th example is held out when eval_frac > 0.
    const int64_t k = o.eval_frac > 0 ? std::max<int64_t>(2, std::llround(1.0 / o.eval_frac)) : 0;
    for (size_t i = 0; i < all.size(); ++i)
      (k && static_cast<int64_t>(i) % k == k - 1 ? eval_ex : train_ex).push_back(std::move(all[i]));
  }
  if (train_ex.empty()) fail_input(o.data, ": nothing left to train on after the eval split");
  for (const auto* set : {&train_ex, &eval_ex})
    for (const Example& e : *set)
      for (int32_t id : e.ids)
        if (id < 0 || id >= mcfg.vocab)
          fail_input("token id ", id, " from the tokenizer is outside the model's vocabulary of ",
                     mcfg.vocab, " (does the tokenizer belong to this model?)");
  std::fprintf(
      stderr,
      "data: %lld rows -> %zu training examples (%lld tokens, %lld loss targets), %zu "
      "eval examples%s\n",
      static_cast<long long>(ds.rows), train_ex.size(), static_cast<long long>(ds.tokens),
      static_cast<long long>(ds.targets), eval_ex.size(),
      ds.too_long ? (", " + std::to_string(ds.too_long) + " longer than --seq-len left out").c_str()
                  : "");

  Batcher batcher(train_ex, o.batch_tokens, o.seed);
  const int64_t steps =
      o.steps > 0 ? o.steps
                  : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                             o.epochs * batcher.batches_per_epoch() / o.accum)));
  const int64_t warmup = o.warmup >= 0 ? o.warmup : static_cast<int64_t>(o.warmup_frac * steps);
  const uint64_t data_hash = fnv1a64(read_file(o.data));
  const uint64_t tok_hash = fnv1a64(read_file(path_join(source, "tokenizer.json")));
  const ordered_json want = settings(o, steps, warmup, data_hash, tok_hash);

  // f32 weights, gradients and both AdamW moments, before anything is allocated (with LoRA the
  // base stays as stored and only the adapters are trained).
  const bool lora = o.lora_rank > 0;
  if (!lora)
    check_memory(mul_sat(models::count_params(mcfg, 4).total_params, 16),
                 "training this model (f32 weights, gradients and AdamW moments)");
  models::LoadOptions lo;
  lo.trainable = !lora;
  auto model = models::load_model(lora ? o.model_dir : source, lo);
  std::shared_ptr<models::LoraAdapters> adapters;
  if (lora)
    adapters = attach_lora(
        *model, latest,
        models::LoraAdapters::make_config(o.lora_rank, o.lora_alpha, o.lora_targets), o.seed);
  TrainerConfig tc;
  tc.adam = {o.beta1, o.beta2, o.eps, o.weight_decay};
  tc.schedule = {o.lr, warmup, steps, o.min_lr_ratio};
  tc.clip_norm = o.clip;
  std::unique_ptr<Trainer> trainer_ptr =
      lora ? std::make_unique<Trainer>(*model, tc, adapters->parameters())
           : std::make_unique<Trainer>(*model, tc);
  Trainer& trainer = *trainer_ptr;
  const std::map<std::string, std::string> side = model_side_files(o.model_dir);

  if (latest) {
    const std::string state_path = path_join(*latest, "trainer_state.json");
    const nlohmann::json st = read_json_file(state_path);
    const nlohmann::json& old = json_field(st, "settings", state_path);
    for (auto it = want.begin(); it != want.end(); ++it) {
      // Checkpoints from before a setting existed ran with its default (bf16_matmul: off).
      const nlohmann::json was = old.is_object() && old.contains(it.key()) ? old[it.key()]
                                 : it.key() == "bf16_matmul"               ? nlohmann::json(false)
                                                                           : nullptr;
      if (was != nlohmann::json(it.value()))
        fail_usage("--resume: the checkpoint was made with ", it.key(), " = ", was.dump(),
                   ", this run has ", it.value().dump(),
                   (it.key() == "data_fnv1a" ? " (the data file changed)" : ""));
    }
    const int64_t step = json_int(st, "step", state_path);
    const int64_t epoch = json_int(st, "epoch", state_path);
    const int64_t cursor = json_int(st, "cursor", state_path);
    if (step < 0 || step > steps || epoch < 0 || cursor < 0)
      fail_input(state_path, ": step, epoch or cursor out of range");
    io::WeightStore opt = io::WeightStore::open_file(path_join(*latest, "optimizer.safetensors"));
    for (auto& [name, t] : trainer.optimizer().state_tensors()) {
      Tensor s = opt.get(name);
      if (s.shape != t.shape || s.dtype != DType::F32)
        fail_input(*latest, ": optimizer state ", name, " does not match the model");
      std::memcpy(t.data, s.data, t.nbytes());
    }
    trainer.optimizer().set_steps_done(step);
    batcher.seek(epoch, cursor);
    std::fprintf(stderr, "resumed from %s (step %lld)\n", latest->c_str(),
                 static_cast<long long>(trainer.step_index()));
  }

  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) fail_input(o.out_dir, ": cannot create folder: ", ec.message());
  std::ofstream log(path_join(o.out_dir, "train_log.jsonl"), std::ios::app);
  std::vector<const Example*> eval_ptrs;
  for (const Example& e : eval_ex) eval_ptrs.push_back(&e);
  auto evaluate = [&](int64_t step) {
    if (eval_ptrs.empty()) return;
    auto [loss, n] = trainer.eval_loss(eval_ptrs, o.batch_tokens);
    std::fprintf(stderr, "step %lld  eval loss %.4f (%lld tokens)\n", static_cast<long long>(step),
                 loss, static_cast<long long>(n));
    log << ordered_json{{"step", step}, {"eval_loss", loss}, {"eval_tokens", n}}.dump() << "\n";
    log.flush();
  };
  auto save_checkpoint = [&]() {
    const int64_t step = trainer.step_index();
    if (std::filesystem::exists(checkpoint_dir(o.out_dir, step))) return;  // already saved
    std::map<std::string, std::string> files = side;
    ordered_json st = {{"step", step},
                       {"epoch", batcher.epoch()},
                       {"cursor", batcher.cursor()},
                       {"settings", want}};
    files["trainer_state.json"] = st.dump(2) + "\n";
    std::map<std::string, NamedTensors> tensors = {
        {"optimizer.safetensors", trainer.optimizer().state_tensors()}};
    add_trained_weights(*model, adapters.get(), o.model_dir, files, tensors);
    write_folder(checkpoint_dir(o.out_dir, step), files, tensors, DType::F32);
    prune_checkpoints(o.out_dir, static_cast<int>(o.keep));
  };

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const int64_t first = trainer.step_index();
  int64_t tokens_run = 0;
  double last_loss = 0;
  while (trainer.step_index() < steps) {
    std::vector<std::vector<const Example*>> micro;
    for (int64_t a = 0; a < o.accum; ++a) micro.push_back(batcher.next());
    const auto s0 = clock::now();
    StepStats st = trainer.step(micro);
    if (!std::isfinite(st.loss) || !std::isfinite(st.grad_norm))
      fail_input("training diverged at step ", trainer.step_index(), " (loss ", st.loss,
                 ", gradient norm ", st.grad_norm,
                 "); nothing was saved for this step. Try a lower --lr or more --warmup");
    const double dt = std::chrono::duration<double>(clock::now() - s0).count();
    tokens_run += st.tokens;
    last_loss = st.loss;
    const int64_t done = trainer.step_index();
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    const double per_step = elapsed / static_cast<double>(done - first);
    if (o.log_every > 0 && (done % o.log_every == 0 || done == steps))
      std::fprintf(stderr,
                   "step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s  elapsed %s  "
                   "eta %s\n",
                   static_cast<long long>(done), static_cast<long long>(steps), st.loss, st.lr,
                   st.grad_norm, static_cast<double>(st.tokens) / dt, duration(elapsed).c_str(),
                   duration(per_step * static_cast<double>(steps - done)).c_str());
    log << ordered_json{{"step", done},        {"loss", st.loss},
                        {"lr", st.lr},         {"grad_norm", st.grad_norm},
                        {"tokens", st.tokens}, {"targets", st.targets},
                        {"seconds", dt},       {"epoch", batcher.epoch()}}
               .dump()
        << "\n";
    log.flush();
    if (o.eval_every > 0 && done % o.eval_every == 0) evaluate(done);
    const bool stopping = o.stop_after > 0 && done >= o.stop_after && done < steps;
    if ((o.save_every > 0 && done % o.save_every == 0) || stopping) save_checkpoint();
    if (stopping) {
      std::fprintf(stderr, "stopping after step %lld (--stop-after); continue with --resume\n",
                   static_cast<long long>(done));
      return last_loss;
    }
  }
  if (o.eval_every > 0 && steps % o.eval_every != 0) evaluate(steps);
  if (o.save_every > 0) save_checkpoint();
  if (lora)
    adapters->save(o.out_dir, o.model_dir);
  else
    write_model_files(o.out_dir, side, model->parameters(true),
                      o.save_dtype == "bf16" ? DType::BF16 : DType::F32);
  log.close();
  write_loss_plot(o.out_dir, "r1 train " + o.kind + ": " + o.data);
  const double total = std::chrono::duration<double>(clock::now() - t0).count();
  std::fprintf(stderr, "done: %lld steps, %lld tokens in %s (%.0f tok/s); model written to %s\n",
               static_cast<long long>(steps - first), static_cast<long long>(tokens_run),
               duration(total).c_str(), static_cast<double>(tokens_run) / total, o.out_dir.c_str());
  return last_loss;
}

}  // namespace r1::train
