// r1 train init | pretrain | sft: a new model, and training it (src/train).
#include <cstdio>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "models/lora.h"
#include "models/model.h"
#include "train/checkpoint.h"
#include "train/grpo.h"
#include "train/init.h"
#include "train/rejection.h"
#include "train/run.h"

namespace r1::cli {

namespace {

int run_init(Args& a) {
  train::InitOptions o;
  o.arch = a.take_str("--arch", o.arch);
  o.tokenizer_dir = a.take_str("--tokenizer", "");
  const std::string out = a.take_str("--out", "", "-o");
  o.vocab = a.take_int("--vocab", 0, 1, kMaxVocab);
  o.hidden = a.take_int("--hidden", o.hidden, 1, 1 << 16);
  o.layers = a.take_int("--layers", o.layers, 1, 1024);
  o.heads = a.take_int("--heads", o.heads, 1, 1024);
  o.kv_heads = a.take_int("--kv-heads", 0, 1, 1024);
  o.intermediate = a.take_int("--intermediate", 0, 1, 1 << 20);
  o.head_dim = a.take_int("--head-dim", 0, 1, 4096);
  o.max_position = a.take_int("--max-position", o.max_position, 1, kMaxTokens);
  o.rope_theta = a.take_double("--rope-theta", o.rope_theta, Range::above(0, 1e12));
  o.tie_embeddings = !a.take_bool("--untied");
  o.q_lora_rank = a.take_int("--q-lora-rank", o.q_lora_rank, 0, 1 << 16);
  o.kv_lora_rank = a.take_int("--kv-lora-rank", o.kv_lora_rank, 1, 1 << 16);
  o.qk_nope_head_dim = a.take_int("--qk-nope-head-dim", o.qk_nope_head_dim, 1, 4096);
  o.qk_rope_head_dim = a.take_int("--qk-rope-head-dim", o.qk_rope_head_dim, 2, 4096);
  o.v_head_dim = a.take_int("--v-head-dim", o.v_head_dim, 1, 4096);
  o.n_routed_experts = a.take_int("--experts", o.n_routed_experts, 1, 4096);
  o.experts_per_tok = a.take_int("--experts-per-token", o.experts_per_tok, 1, 4096);
  o.n_shared_experts = a.take_int("--shared-experts", o.n_shared_experts, 0, 64);
  o.moe_intermediate = a.take_int("--moe-intermediate", 0, 1, 1 << 20);
  o.n_group = a.take_int("--expert-groups", o.n_group, 1, 4096);
  o.topk_group = a.take_int("--topk-groups", o.topk_group, 1, 4096);
  o.first_k_dense_replace = a.take_int("--first-dense-layers", o.first_k_dense_replace, 0, 1024);
  o.seed = static_cast<uint64_t>(a.take_int("--seed", 0, 0, kMaxI64));
  o.init_std = a.take_double("--init-std", o.init_std, Range::above(0, 10));
  o.dtype = a.take_str("--dtype", o.dtype);
  a.finish();
  if (out.empty()) fail_usage("--out DIR is required");
  const int64_t n = train::init_model(o, out);
  std::printf("wrote %s: %s, %lld parameters\n", out.c_str(), o.arch.c_str(),
              static_cast<long long>(n));
  return 0;
}

int run_loop(Args& a, const char* kind) {
  train::RunOptions o;
  o.kind = kind;
  const auto model = a.take("--model", "-m");
  if (!model) fail_usage("-m DIR (the model to train) is required");
  o.model_dir = resolve_model_dir(model);
  o.data = a.take_str("--data", "");
  o.eval_data = a.take_str("--eval-data", "");
  o.out_dir = a.take_str("--out", "", "-o");
  o.seq_len = a.take_int("--seq-len", o.seq_len, 2, kMaxTokens);
  o.batch_tokens = a.take_int("--batch-tokens", o.batch_tokens, 2, kMaxTokens);
  o.accum = a.take_int("--accum", o.accum, 1, 1 << 20);
  o.steps = a.take_int("--steps", 0, 1, kMaxI64);
  o.epochs = a.take_double("--epochs", o.epochs, Range::above(0, 1e6));
  o.lr = a.take_double("--lr", o.lr, Range::above(0, 10));
  o.min_lr_ratio = a.take_double("--min-lr-ratio", o.min_lr_ratio, Range::closed(0, 1));
  o.warmup = a.take_int("--warmup", -1, 0, kMaxI64);
  o.beta1 = a.take_double("--beta1", o.beta1, Range::below(0, 1));
  o.beta2 = a.take_double("--beta2", o.beta2, Range::below(0, 1));
  o.weight_decay = a.take_double("--weight-decay", o.weight_decay, Range::closed(0, 10));
  o.clip = a.take_double("--clip", o.clip, Range::closed(0, 1e6));
  o.eval_frac = a.take_double("--eval-fraction", 0.0, Range::below(0, 1));
  o.eval_every = a.take_int("--eval-every", 0, 0, kMaxI64);
  o.save_every = a.take_int("--save-every", 0, 0, kMaxI64);
  o.log_every = a.take_int("--log-every", 1, 1, kMaxI64);
  o.keep = a.take_int("--keep", o.keep, 1, 1 << 20);
  o.stop_after = a.take_int("--stop-after", 0, 1, kMaxI64);
  o.seed = static_cast<uint64_t>(a.take_int("--seed", 0, 0, kMaxI64));
  o.resume = a.take_bool("--resume");
  o.save_dtype = a.take_str("--save-dtype", o.save_dtype);
  o.lora_rank = a.take_int("--lora-rank", 0, 1, 4096);
  o.lora_alpha = a.take_double("--lora-alpha", o.lora_alpha, Range::above(0, 1e6));
  o.lora_targets = a.take_str("--lora-targets", "");
  take_threads(a);
  take_bf16_matmul(a);
  a.finish();
  train::run_training(o);
  return 0;
}

int run_grpo(Args& a) {
  train::GrpoOptions o;
  const auto model = a.take("--model", "-m");
  if (!model) fail_usage("-m DIR (the policy to train) is required");
  o.model_dir = resolve_model_dir(model);
  o.task = a.take_str("--task", o.task);
  o.data = a.take_str("--data", "");
  o.eval_data = a.take_str("--eval-data", "");
  o.out_dir = a.take_str("--out", "", "-o");
  o.prompt_style = a.take_str("--prompt-style", o.prompt_style);
  o.group = a.take_int("--group", o.group, 1, 1024);
  o.prompts = a.take_int("--prompts", o.prompts, 1, 4096);
  o.steps = a.take_int("--steps", o.steps, 1, kMaxI64);
  o.max_tokens = a.take_int("--max-tokens", o.max_tokens, 1, kMaxTokens, "-n");
  o.temperature = a.take_double("--temperature", o.temperature, Range::above(0, 10));
  o.top_p = a.take_double("--top-p", o.top_p, Range::above(0, 1));
  o.lr = a.take_double("--lr", o.lr, Range::above(0, 10));
  o.min_lr_ratio = a.take_double("--min-lr-ratio", o.min_lr_ratio, Range::closed(0, 1));
  o.warmup = a.take_int("--warmup", o.warmup, 0, kMaxI64);
  o.weight_decay = a.take_double("--weight-decay", o.weight_decay, Range::closed(0, 10));
  o.clip = a.take_double("--clip", o.clip, Range::closed(0, 1e6));
  o.beta1 = a.take_double("--beta1", o.beta1, Range::below(0, 1));
  o.beta2 = a.take_double("--beta2", o.beta2, Range::below(0, 1));
  o.beta = a.take_double("--beta", o.beta, Range::closed(0, 100));
  o.eps_low = a.take_double("--epsilon", o.eps_low, Range::above(0, 1));
  o.eps_high = a.take_double("--epsilon-high", o.eps_low, Range::above(0, 10));
  o.updates = a.take_int("--updates", o.updates, 1, 64);
  o.ref_update_every = a.take_int("--ref-update-every", 0, 1, kMaxI64);
  o.advantage = a.take_str("--advantage", o.advantage);
  o.loss_agg = a.take_str("--loss-agg", o.loss_agg);
  o.sequence_ratio = a.take_bool("--gspo");
  o.dynamic_sampling = a.take_bool("--dynamic-sampling");
  o.overlong_buffer = a.take_int("--overlong-buffer", 0, 1, kMaxTokens);
  o.accuracy_weight = a.take_double("--accuracy-weight", o.accuracy_weight, Range::closed(0, 100));
  o.format_weight = a.take_double("--format-weight", o.format_weight, Range::closed(0, 100));
  o.micro_tokens = a.take_int("--micro-tokens", o.micro_tokens, 16, kMaxTokens);
  o.eval_every = a.take_int("--eval-every", 0, 1, kMaxI64);
  o.eval_k = a.take_int("--eval-k", o.eval_k, 1, 1024);
  o.eval_limit = a.take_int("--eval-limit", o.eval_limit, 1, kMaxI64);
  o.save_every = a.take_int("--save-every", 0, 1, kMaxI64);
  o.keep = a.take_int("--keep", o.keep, 1, 1 << 20);
  o.stop_after = a.take_int("--stop-after", 0, 1, kMaxI64);
  o.log_every = a.take_int("--log-every", o.log_every, 1, kMaxI64);
  o.seed = static_cast<uint64_t>(a.take_int("--seed", 0, 0, kMaxI64));
  o.resume = a.take_bool("--resume");
  o.lora_rank = a.take_int("--lora-rank", 0, 1, 4096);
  o.lora_alpha = a.take_double("--lora-alpha", o.lora_alpha, Range::above(0, 1e6));
  o.lora_targets = a.take_str("--lora-targets", "");
  take_threads(a);
  take_bf16_matmul(a);
  a.finish();
  if (o.overlong_buffer >= o.max_tokens)
    fail_usage("--overlong-buffer must be smaller than --max-tokens");
  train::run_grpo(o);
  return 0;
}

int run_rejection(Args& a) {
  train::RejectionOptions o;
  const auto model = a.take("--model", "-m");
  if (!model) fail_usage("-m DIR (the model to sample from) is required");
  o.model_dir = resolve_model_dir(model);
  o.adapter = a.take_str("--adapter", "");
  o.task = a.take_str("--task", o.task);
  o.data = a.take_str("--data", "");
  o.out = a.take_str("--out", "", "-o");
  o.k = a.take_int("-k", o.k, 1, 1024);
  o.keep_per_problem = a.take_int("--keep-per-problem", o.keep_per_problem, 1, 1024);
  o.limit = a.take_int("--limit", 0, 1, kMaxI64);
  o.max_tokens = a.take_int("--max-tokens", o.max_tokens, 1, kMaxTokens, "-n");
  o.batch = a.take_int("--batch", o.batch, 1, kMaxBatch);
  o.temperature = a.take_double("--temperature", o.temperature, Range::above(0, 10));
  o.top_p = a.take_double("--top-p", o.top_p, Range::above(0, 1));
  o.max_repeats = a.take_int("--max-repeats", o.max_repeats, 1, 1 << 20);
  o.seed = static_cast<uint64_t>(a.take_int("--seed", 0, 0, kMaxI64));
  take_threads(a);
  a.finish();
  const train::RejectionStats st = train::rejection_sample(o);
  std::fprintf(
      stderr,
      "%lld problems, %lld samples, %lld correct (%.1f%%), %lld kept for SFT covering %lld "
      "problems, %.0f tokens each on average -> %s\n",
      static_cast<long long>(st.problems), static_cast<long long>(st.samples),
      static_cast<long long>(st.correct), 100.0 * st.correct / std::max<int64_t>(1, st.samples),
      static_cast<long long>(st.kept), static_cast<long long>(st.problems_covered),
      st.mean_kept_tokens, o.out.c_str());
  return 0;
}

int run_merge(Args& a) {
  const auto model = a.take("--model", "-m");
  if (!model) fail_usage("-m DIR (the base model) is required");
  const std::string base = resolve_model_dir(model);
  const std::string adapter = a.take_str("--adapter", "");
  const std::string out = a.take_str("--out", "", "-o");
  const std::string dtype = a.take_str("--dtype", "f32");
  a.finish();
  if (adapter.empty()) fail_usage("--adapter DIR (a PEFT LoRA folder) is required");
  if (out.empty()) fail_usage("--out DIR is required");
  if (dtype != "f32" && dtype != "bf16") fail_usage("--dtype must be f32 or bf16");
  models::LoadOptions lo;
  lo.trainable = true;  // writable f32 weights to merge into
  auto m = models::load_model(base, lo);
  const auto adapters = models::LoraAdapters::load(*m, adapter);
  models::merge_lora(*m, *adapters);
  train::write_folder(out, train::model_side_files(base),
                      {{"model.safetensors", m->parameters(true)}},
                      dtype == "bf16" ? DType::BF16 : DType::F32);
  std::printf("wrote %s: %s with %s merged\n", out.c_str(), base.c_str(), adapter.c_str());
  return 0;
}

int run_pretrain(Args& a) {
  return run_loop(a, "pretrain");
}
int run_sft(Args& a) {
  return run_loop(a, "sft");
}

#define R1_TRAIN_LOOP_USAGE                                                                    \
  "  -m, --model DIR       the model to train (from `r1 train init` or any checkpoint)\n"      \
  "  --data FILE           training data\n"                                                    \
  "  --out DIR             where the trained model, checkpoints/ and train_log.jsonl go\n"     \
  "  --eval-data FILE      held-out data for the evaluation loss (or --eval-fraction F)\n"     \
  "  --seq-len N           longest sequence (default 1024)\n"                                  \
  "  --batch-tokens N      tokens per micro-batch, sequences packed (default 4096)\n"          \
  "  --accum N             micro-batches per optimizer step (default 1)\n"                     \
  "  --steps N | --epochs X  length of training (default 1 epoch)\n"                           \
  "  --lr X --min-lr-ratio R --warmup N   peak lr, cosine floor (0.1), warmup steps (5%)\n"    \
  "  --weight-decay X --clip X --beta1 X --beta2 X   AdamW (0.1, 1.0, 0.9, 0.95)\n"            \
  "  --eval-every N --save-every N --keep N --log-every N\n"                                   \
  "  --stop-after N        stop after N steps with a checkpoint (continue with --resume)\n"    \
  "  --resume              continue exactly from the newest checkpoint in --out\n"             \
  "  --save-dtype f32|bf16 dtype of the final model (checkpoints keep f32)\n"                  \
  "  --seed N --threads N\n"                                                                   \
  "  --bf16-matmul         bf16 products for the f32 weights (AVX-512 BF16 CPUs; not exact)\n" \
  "  --lora-rank R --lora-alpha A --lora-targets LIST   train LoRA adapters only (PEFT)\n"

R1_COMMAND({"train init",
            "create a new randomly initialized model with a given tokenizer",
            "  --arch qwen2|llama|deepseek_v3   (default qwen2)\n"
            "  --tokenizer DIR       tokenizer.json + tokenizer_config.json to use\n"
            "  --out DIR\n"
            "  --hidden N --layers N --heads N --kv-heads N --intermediate N --head-dim N\n"
            "  --vocab N (default: tokenizer size rounded up to 64) --max-position N\n"
            "  --rope-theta X --untied --init-std X (0.02) --seed N --dtype f32|bf16\n"
            "  DeepSeek-V3: --q-lora-rank --kv-lora-rank --qk-nope-head-dim --qk-rope-head-dim\n"
            "    --v-head-dim --experts --experts-per-token --shared-experts --moe-intermediate\n"
            "    --expert-groups --topk-groups --first-dense-layers\n",
            {"--untied"},
            run_init});
R1_COMMAND(
    {"train pretrain",
     "train on text (next-token loss on every token)",
     "  --data: .jsonl rows {\"text\"} or plain text, one document per line\n" R1_TRAIN_LOOP_USAGE,
     {"--resume", "--bf16-matmul"},
     run_pretrain});
R1_COMMAND(
    {"train grpo",
     "reinforcement learning with GRPO and rule rewards (R1-Zero / R1's RL stages)",
     "  -m, --model DIR       the policy to train (f32 master weights; sampled and updated in\n"
     "                        place, one process)\n"
     "  --task T              countdown | arithmetic | math | gsm8k | aime (the verifier of\n"
     "                        r1 eval); countdown and arithmetic problems are generated when\n"
     "                        --data is not given\n"
     "  --data FILE --eval-data FILE   training / held-out problems in r1 eval's formats\n"
     "  --out DIR             train_log.jsonl, reward.svg, length.svg, checkpoints/, the model\n"
     "  --prompt-style chat|r1-zero   the chat template, or R1-Zero's plain-text template\n"
     "  --group G --prompts P  samples per prompt (8) and prompts per step (8)\n"
     "  --steps N --max-tokens N --temperature T --top-p P   (100, 256, 1.0, 1.0)\n"
     "  --advantage grpo|drgrpo|rloo   (r - mean)/std, r - mean, leave-one-out (grpo)\n"
     "  --loss-agg seq-mean|token-mean|constant   GRPO, DAPO, Dr. GRPO (seq-mean)\n"
     "  --epsilon E --epsilon-high E   the clip range [1 - E, 1 + E_high] (0.2, = E)\n"
     "  --gspo                sequence-level ratio\n"
     "  --beta B --ref-update-every N  k3 KL to a reference policy (0: none kept)\n"
     "  --updates N           optimizer updates per batch of rollouts (1: exactly on-policy)\n"
     "  --dynamic-sampling    drop groups with equal rewards and draw more prompts (DAPO)\n"
     "  --overlong-buffer N   DAPO's soft penalty over the last N tokens of --max-tokens\n"
     "  --accuracy-weight X --format-weight X   reward = X_acc * verifier + X_fmt * format\n"
     "  --lr X --warmup N --min-lr-ratio R --weight-decay X --clip X --beta1 X --beta2 X\n"
     "                        (1e-5, 0, 1 = constant, 0, 1.0, 0.9, 0.99)\n"
     "  --eval-every N --eval-k K --eval-limit N   held-out pass@1 / cons@K (K 4, 200 problems)\n"
     "  --micro-tokens N --save-every N --keep N --stop-after N --resume --seed N --threads N\n"
     "  --bf16-matmul         bf16 products for the f32 weights (AVX-512 BF16 CPUs; not exact)\n"
     "  --lora-rank R --lora-alpha A --lora-targets q_proj,v_proj,...   train LoRA adapters only\n"
     "                        (base frozen in its dtype; --out gets a PEFT adapter folder)\n",
     {"--gspo", "--dynamic-sampling", "--resume", "--bf16-matmul"},
     run_grpo});
R1_COMMAND(
    {"train rejection-sample",
     "k samples per problem, keep the correct and readable ones as SFT data (R1 stage 3)",
     "  -m, --model DIR       the model to sample from (--adapter DIR: with a LoRA adapter)\n"
     "  --task T --data FILE  problems as r1 train grpo takes them (countdown and\n"
     "                        arithmetic are generated without --data)\n"
     "  --out FILE            SFT rows {\"messages\": [user, assistant]} for r1 train sft\n"
     "  -k K                  samples per problem (8); --keep-per-problem N (2)\n"
     "  --limit N --max-tokens N --batch B --temperature T --top-p P --seed S --threads N\n"
     "  --max-repeats N       drop replies that repeat a line more than N times (3)\n"
     "  kept: verified correct, ended on their own, </think> once with the answer after\n"
     "  it, valid UTF-8, not repetitive; identical replies once\n",
     {},
     run_rejection});
R1_COMMAND({"train merge",
            "merge a LoRA adapter (PEFT folder) into its base model: a full checkpoint",
            "  -m, --model DIR       the base model\n"
            "  --adapter DIR         adapter_config.json + adapter_model.safetensors\n"
            "  --out DIR             the merged model (a new folder)\n"
            "  --dtype f32|bf16      dtype of the written weights (default f32)\n",
            {},
            run_merge});
R1_COMMAND({"train sft",
            "supervised fine-tuning on conversations (loss on replies only)",
            "  --data: JSONL {\"messages\": [...]} ending in the assistant reply, or\n"
            "          {\"prompt\", \"response\"}; the model's chat template is "
            "applied\n" R1_TRAIN_LOOP_USAGE,
            {"--resume", "--bf16-matmul"},
            run_sft});

}  // namespace

}  // namespace r1::cli
