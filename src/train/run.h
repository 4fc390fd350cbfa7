// The training loop behind `r1 train pretrain` and `r1 train sft`: data, steps, progress
// (loss, lr, tokens/s, ETA per step; periodic evaluation loss), checkpoints and exact resume.
#pragma once

#include <cstdint>
#include <string>

namespace r1::train {

struct RunOptions {
  std::string kind = "sft";  // sft | pretrain
  std::string model_dir, data, eval_data, out_dir;
  int64_t seq_len = 1024;       // longest sequence (SFT rows beyond it are left out)
  int64_t batch_tokens = 4096;  // tokens per micro-batch (packed sequences)
  int64_t accum = 1;            // micro-batches per optimizer step
  int64_t steps = 0;            // 0: from epochs
  double epochs = 1.0;
  double lr = 1e-3, min_lr_ratio = 0.1, warmup_frac = 0.05;
  int64_t warmup = -1;  // steps; -1: warmup_frac of the steps
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, clip = 1.0;
  double eval_frac = 0.0;  // without eval_data: hold out this fraction of the data
  int64_t eval_every = 0, save_every = 0, log_every = 1, keep = 2;
  int64_t stop_after = 0;  // stop (after saving a checkpoint) once this many steps are done
  uint64_t seed = 0;
  bool resume = false;
  std::string save_dtype = "f32";  // the final model's dtype: f32 | bf16
  // LoRA (models/lora.h): train adapters only; the output is a PEFT adapter folder.
  int64_t lora_rank = 0;
  double lora_alpha = 16;
  std::string lora_targets;
};

// Runs training; prints progress to stderr; writes the model to out_dir (and checkpoints under
// out_dir/checkpoints, and out_dir/train_log.jsonl). Returns the final training loss.
double run_training(const RunOptions& o);

}  // namespace r1::train
