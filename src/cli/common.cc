#include "cli/common.h"

#include <iostream>
#include <iterator>

#include "cli/model_dir.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"
#include "tokenizer/stop_ids.h"

namespace r1::cli {

const char* kModelFlagsUsage =
    "  -m, --model DIR      model folder or bundled model name (default r1-arith)\n"
    "  --threads N          worker threads (default: all CPUs)\n"
    "  --mmap, --no-mmap    map the weight files (pages read on first touch) or read them\n"
    "                       into memory in huge pages (faster batches and prefill); default:\n"
    "                       read when they fit in half the available memory\n"
    "  --quantize T         quantize the matrix weights when loading, as r1 quantize writes\n"
    "                       them: q8_0 (llama.cpp's 8-bit blocks, half of bf16's bytes per\n"
    "                       token), q4_k_m or q4_0 (4-bit, about 0.3x); bf16 or f16 round\n"
    "                       every matrix to that type\n"
    "  --ctx N              context length to allow (default: max_position_embeddings)\n"
    "  --adapter DIR        apply a LoRA adapter (PEFT folder, e.g. from r1 train ... "
    "--lora-rank)\n"
    "  --fast-bf16          bf16 weights: round the activations to bf16 and use the CPU's\n"
    "                       bf16 dot products (about twice the prefill speed; 30x closer to\n"
    "                       the exact path than PyTorch's bf16 inference, bench/README.md);\n"
    "                       Q8_0 / 4-6-bit weights: the same over weights dequantized to\n"
    "                       bf16 for 48 or more tokens at once (prompts), instead of int8\n"
    "                       activations; fp8 weights: activations times the block scales\n"
    "                       rounded to bf16 (128+ rows: bf16 panels of the weights times\n"
    "                       their scales; AVX-512 with VBMI). The default where\n"
    "                       the CPU has them and they outrun f32 FMA (AVX-512 BF16 on AMD),\n"
    "                       except for r1 score\n"
    "  --exact              bf16 and fp8 weights: every product in f32 of the weights\n"
    "                       widened exactly (the numerics of the reference goldens; r1\n"
    "                       score's default); quantized weights: no bf16 rounding (decode's\n"
    "                       kernels for prompts too)\n";

const char* kSamplingFlagsUsage =
    "  --temperature T      0 = greedy (default 0.6)\n"
    "  --top-p P            nucleus sampling mass (default 0.95)\n"
    "  --top-k K            keep the K most likely tokens (default 0 = off)\n"
    "  --min-p P            drop tokens below P times the top probability (default 0 = off)\n"
    "  --repetition-penalty R   HF-style penalty on seen tokens (default 1 = off)\n"
    "  --presence-penalty P     OpenAI-style (default 0)\n"
    "  --frequency-penalty F    OpenAI-style (default 0)\n"
    "  --seed S             random seed (default 0); same seed, same output\n";

DType take_kv_dtype(Args& args, DType dflt) {
  const std::string v = args.take_str("--kv-dtype", dflt == DType::BF16 ? "bf16" : "f32");
  if (v == "f32") return DType::F32;
  if (v == "bf16") return DType::BF16;
  fail_usage("flag --kv-dtype takes f32 or bf16, got '", v, "'");
}

void take_threads(Args& args) {
  const int64_t threads = args.take_int("--threads", 0, 1, 1024);
  if (threads > 0) set_num_threads(static_cast<int>(threads));
}

void take_bf16_matmul(Args& args) {
  if (!args.take_bool("--bf16-matmul")) return;
  if (kernels::kernels().isa != kernels::Isa::Avx512) {
    std::fprintf(stderr,
                 "warning: --bf16-matmul ignored: the %s kernels have no bf16 dot products "
                 "(AVX-512 BF16); training computes in f32\n",
                 kernels::isa_name(kernels::kernels().isa));
    return;
  }
  if (!cpu_features().bf16_dot_fast())
    std::fprintf(stderr,
                 "note: --bf16-matmul: on this CPU bf16 dot products are not known to outrun f32 "
                 "(Intel runs vdpbf16ps at half its FMA rate); compare with and without\n");
  ops::set_bf16_matmul(true);
}

LoadedModel load_model_from_flags(Args& args, bool fast_bf16_default) {
  LoadedModel lm;
  lm.dir = resolve_model_dir(args.take("--model", "-m"));
  take_threads(args);
  models::LoadOptions opt;
  const bool map = args.take_bool("--mmap"), read = args.take_bool("--no-mmap");
  if (map && read) fail_usage("--mmap and --no-mmap exclude each other");
  opt.load = map ? LoadMode::Map : read ? LoadMode::Read : LoadMode::Auto;
  const std::string quantize = args.take_str("--quantize", "");
  io::QuantMix mix;
  if (!quantize.empty() && io::parse_quant_mix(quantize, &mix) && mix != io::QuantMix::F32) {
    opt.quantize = mix;
    // The stored weights are read once to be quantized: from the page cache, not a heap copy.
    if (!read) opt.load = LoadMode::Map;
  } else if (!quantize.empty()) {
    fail_usage("--quantize takes bf16, f16, q8_0, q4_k_m or q4_0, not \"", quantize, "\"");
  }
  const bool fast = args.take_bool("--fast-bf16"), exact = args.take_bool("--exact");
  if (fast && exact) fail_usage("--fast-bf16 and --exact exclude each other");
  // bf16 dot products are the default only where the CPU computes them natively (the AVX-512
  // kernels require AVX-512 BF16) and faster than f32 FMA (CpuFeatures::bf16_dot_fast); elsewhere
  // rounding the activations would gain no speed.
  ops::set_fast_bf16(fast || (!exact && fast_bf16_default &&
                              kernels::kernels().isa == kernels::Isa::Avx512 &&
                              cpu_features().bf16_dot_fast()));
  opt.max_context = args.take_int("--ctx", 0, 1, kMaxTokens);
  const std::string adapter = args.take_str("--adapter", "");
  lm.model = models::load_model(lm.dir, opt);
  if (!adapter.empty()) lm.model->set_lora(models::LoraAdapters::load(*lm.model, adapter));
  const int64_t vocab = lm.model->config().vocab;
  if (file_exists(path_join(lm.dir, "tokenizer.json"))) {
    lm.tokenizer = tok::Tokenizer::load(lm.dir);
    // Every id the tokenizer can produce must be a row of the embedding.
    if (lm.tokenizer->vocab_size() > vocab)
      fail_input(lm.dir, ": the tokenizer has ", lm.tokenizer->vocab_size(),
                 " ids but the model's embedding only ", vocab, " rows (vocab_size)");
  }
  lm.eos_ids = tok::stop_ids(lm.dir, lm.model->config(), lm.tokenizer ? &*lm.tokenizer : nullptr);
  return lm;
}

runtime::SamplingParams take_sampling(Args& args) {
  runtime::SamplingParams p;
  // The ranges OpenAI's API allows, where it has the parameter.
  p.temperature =
      static_cast<float>(args.take_double("--temperature", p.temperature, Range::closed(0, 100)));
  p.top_p = static_cast<float>(args.take_double("--top-p", p.top_p, Range::above(0, 1)));
  p.top_k = static_cast<int>(args.take_int("--top-k", p.top_k, 0, 1 << 30));
  p.min_p = static_cast<float>(args.take_double("--min-p", p.min_p, Range::closed(0, 1)));
  p.repetition_penalty = static_cast<float>(
      args.take_double("--repetition-penalty", p.repetition_penalty, Range::above(0, 100)));
  p.presence_penalty =
      static_cast<float>(args.take_double("--presence-penalty", 0, Range::closed(-2, 2)));
  p.frequency_penalty =
      static_cast<float>(args.take_double("--frequency-penalty", 0, Range::closed(-2, 2)));
  int64_t seed = args.take_int("--seed", 0, 0, kMaxI64);
  p.seed = static_cast<uint64_t>(seed);
  p.validate();
  return p;
}

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

}  // namespace r1::cli
