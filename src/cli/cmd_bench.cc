// r1 bench: prefill and decode speed of a model on random tokens, with the weight bytes one
// decode step reads and the bandwidth that achieves next to the machine's measured bandwidth.
// Each phase is warmed up first (weights paged in, caches and thread pool hot) and timed over
// several repetitions; the median is reported.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/bench_quality.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/threads.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "kernels/kernels.h"
#include "kernels/membw.h"
#include "models/deepseek_v3.h"
#include "models/param_count.h"
#include "ops/ops.h"
#include "runtime/generator.h"
#include "runtime/sampler.h"
#include "runtime/speculative.h"

namespace r1::cli {
namespace {

using nlohmann::json;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A parameter count in the unit that shows it: "671.03 B", "1.67 M", "20480".
std::string count_str(double n) {
  char buf[32];
  if (n >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

// --dry-run: what the model in config.json needs, from the config alone (no weights read); for a
// GGUF file, each tensor in the type its header gives.
int dry_run(const std::string& dir, bool as_json, bool skip_bw) {
  io::ModelConfig cfg = io::ModelConfig::load(dir);
  const std::string& dt = cfg.torch_dtype;
  const int bytes = dt == "float32" ? 4 : 2;
  models::StoredType stored;
  std::string source = "config.json alone";
  if (file_exists(path_join(dir, io::kGgufSourceFile))) {
    const std::string path = read_file(path_join(dir, io::kGgufSourceFile));
    // Each tensor's type and bytes by llama.cpp's name; DeepSeek's split kv_b as two parts under
    // the name of the whole.
    std::map<std::string, std::vector<models::StoredPart>> parts;
    const io::GgufFile g = io::GgufFile::open(path, LoadMode::Map);
    for (const io::GgufTensorInfo& t : g.tensors()) {
      DType d;
      const std::string kv = io::joined_kv_b_name(t.name);
      if (io::ggml_to_dtype(t.type, &d)) parts[kv.empty() ? t.name : kv].push_back({d, t.bytes});
    }
    stored = [parts](const io::TensorSpec& s) -> std::vector<models::StoredPart> {
      const auto it = s.gguf.empty() ? parts.end() : parts.find(s.gguf);
      if (it == parts.end()) return {};
      if (it->second.size() > 1) return it->second;  // attn_k_b and attn_v_b
      const DType d = it->second[0].dtype;           // routed experts: one of the tensor's several
      return {{d, dtype_bytes(d, s.numel())}};
    };
    source = "config.json and the header of " + path;
  }
  models::ParamCount pc = models::count_params(cfg, bytes, stored);
  const double bw = skip_bw ? 0.0 : kernels::measure_read_bandwidth();
  uint64_t total_bytes = 0;
  json by_dtype = json::object();
  for (const auto& [k, v] : pc.bytes_by_dtype) {
    by_dtype[k] = v;
    total_bytes += v;
  }
  json j = {{"model", dir},
            {"arch", cfg.arch_name},
            {"params", pc.total_params},
            {"mtp_params", pc.mtp_params},
            {"active_params_per_token", pc.active_params},
            {"active_bytes_per_token", pc.active_bytes},
            {"weight_bytes_by_dtype", by_dtype},
            {"weight_bytes", total_bytes},
            {"kv_bytes_per_1k_tokens", pc.kv_bytes_per_token * 1000},
            {"machine_read_gb_s", bw / 1e9},
            {"roofline_decode_tok_s", bw > 0 ? bw / pc.active_bytes : 0.0}};
  if (pc.naive_kv_bytes_per_token)
    j["naive_kv_bytes_per_1k_tokens"] = pc.naive_kv_bytes_per_token * 1000;
  if (as_json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("model        %s (%s), from %s\n", dir.c_str(), cfg.arch_name.c_str(),
              source.c_str());
  std::printf("parameters   %s", count_str(pc.total_params).c_str());
  if (pc.mtp_params)
    std::printf(" (%s of them in the MTP layer)", count_str(pc.mtp_params).c_str());
  std::printf("\nweights      %.1f GB:", total_bytes / 1e9);
  for (const auto& [k, v] : pc.bytes_by_dtype) std::printf(" %s %.1f GB", k.c_str(), v / 1e9);
  std::printf("\nper token    %s parameters activated, %.2f GB read per decode step\n",
              count_str(pc.active_params).c_str(), pc.active_bytes / 1e9);
  std::printf("KV cache     %.1f MB per 1K tokens (f32)", pc.kv_bytes_per_token * 1000 / 1e6);
  if (pc.naive_kv_bytes_per_token)
    std::printf(" absorbed MLA; %.1f MB naive", pc.naive_kv_bytes_per_token * 1000 / 1e6);
  std::printf("\n");
  if (bw > 0)
    std::printf(
        "this machine %.1f GB/s read bandwidth: at most %.2f decode tok/s, and %.0f GB of\n"
        "             memory needed for the weights alone\n",
        bw / 1e9, bw / pc.active_bytes, total_bytes / 1e9);
  return 0;
}

int run_bench(Args& args) {
  int64_t P = args.take_int("--prompt-tokens", 128, 1, kMaxTokens);
  int64_t G = args.take_int("--gen-tokens", 32, 1, kMaxTokens);
  int64_t reps = args.take_int("--reps", 3, 1, 1000);
  int64_t batch = args.take_int("--batch", 1, 1, kMaxBatch);
  bool as_json = args.take_bool("--json");
  bool skip_bw = args.take_bool("--no-bandwidth");
  bool skip_mtp = args.take_bool("--no-mtp");
  if (args.take_bool("--dry-run")) {
    std::string dir = resolve_model_dir(args.take("--model", "-m"));
    take_threads(args);
    args.finish();
    return dry_run(dir, as_json, skip_bw);
  }
  QualityOptions quality;
  quality.file = args.take_str("--quality", "");
  quality.formats = args.take_str("--formats", quality.formats);
  quality.window = args.take_int("--ctx-window", quality.window, 4, kMaxTokens);
  quality.tokens = args.take_int("--quality-tokens", quality.tokens, 1, kMaxTokens);
  quality.json = as_json;
  quality.decode = args.take_bool("--decode");
  if (quality.decode && quality.file.empty()) fail_usage("--decode goes with --quality FILE");
  LoadedModel lm = load_model_from_flags(args);
  args.finish();
  if (!quality.file.empty()) return run_quality(lm, quality);
  models::Model& model = *lm.model;
  const auto& cfg = model.config();
  runtime::Rng rng(1234);
  std::vector<int32_t> prompt(P);
  for (auto& t : prompt) t = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(cfg.vocab));

  // Prefill: P tokens of one sequence, logits for the last only.
  auto prefill_once = [&](models::KvCache& cache, int seq) {
    models::Batch b;
    for (int64_t t = 0; t < P; ++t) b.add(prompt[t], static_cast<int32_t>(t), seq, t + 1 == P);
    return model.forward(b, cache);
  };
  std::vector<double> prefill_s, decode_s;
  for (int64_t r = 0; r <= reps; ++r) {  // r == 0 is the warm-up
    models::KvCache cache = model.new_cache();
    std::vector<int> seqs;
    for (int64_t s = 0; s < batch; ++s) seqs.push_back(cache.add_sequence());
    auto t0 = std::chrono::steady_clock::now();
    prefill_once(cache, seqs[0]);
    if (r > 0) prefill_s.push_back(seconds_since(t0));
    for (int64_t s = 1; s < batch; ++s) prefill_once(cache, seqs[s]);
    // Decode: G steps of `batch` sequences, greedy.
    std::vector<int32_t> next(batch, prompt.back());
    t0 = std::chrono::steady_clock::now();
    for (int64_t g = 0; g < G; ++g) {
      models::Batch b;
      for (int64_t s = 0; s < batch; ++s)
        b.add(next[s], static_cast<int32_t>(P + g), seqs[s], true);
      Tensor logits = model.forward(b, cache);
      for (int64_t s = 0; s < batch; ++s) {
        const float* l = logits.ptr<float>() + s * cfg.vocab;
        next[s] = static_cast<int32_t>(std::max_element(l, l + cfg.vocab) - l);
      }
    }
    if (r > 0) decode_s.push_back(seconds_since(t0));
  }
  const double prefill_tok_s = P / median(prefill_s);
  const double decode_tok_s = G * batch / median(decode_s);
  const double bytes_per_step = static_cast<double>(model.weight_bytes_per_token());
  const double achieved = bytes_per_step * decode_tok_s / batch;
  const double bw = skip_bw ? 0.0 : kernels::measure_read_bandwidth();
  json j = {{"impl", "r1"},
            {"model", lm.dir},
            {"arch", cfg.arch_name},
            {"threads", thread_pool().size()},
            {"isa", kernels::isa_name(kernels::kernels().isa)},
            {"prompt_tokens", P},
            {"gen_tokens", G},
            {"batch", batch},
            {"prefill_tok_s", prefill_tok_s},
            {"decode_tok_s", decode_tok_s},
            {"weight_bytes_per_step", bytes_per_step},
            {"decode_gb_s", achieved / 1e9},
            {"machine_read_gb_s", bw / 1e9},
            {"roofline_tok_s", bw > 0 ? bw / bytes_per_step * batch : 0.0}};
  // The main model's cache per token (DeepSeek: the absorbed MLA latent; the MTP layer's own
  // cache layer is not counted, as in --dry-run).
  auto* ds = dynamic_cast<models::DeepseekV3Model*>(&model);
  const int64_t kv_bytes =
      ds ? ds->absorbed_cache_bytes_per_token() : model.new_cache().bytes_per_token();
  j["kv_bytes_per_token"] = kv_bytes;
  j["bf16_dot"] = ops::fast_bf16();
  if (ds) j["naive_kv_bytes_per_token"] = ds->naive_cache_bytes_per_token();
  // MTP speculative decoding next to plain decoding: greedy, the same G tokens.
  runtime::SpeculativeStats spec;
  double plain_s = 0;
  if (ds && ds->has_mtp() && !skip_mtp) {
    runtime::GenRequest r;
    r.prompt = prompt;
    r.sampling.temperature = 0;
    r.max_tokens = G;
    for (int64_t rep = 0; rep <= reps; ++rep) {
      runtime::Generator plain(model, nullptr, {});
      plain.run({r});
      runtime::SpeculativeStats s;
      runtime::generate_mtp_speculative(*ds, nullptr, {}, r, &s);
      if (rep == 0) continue;  // warm-up
      plain_s += plain.stats().decode_seconds;
      spec.steps += s.steps;
      spec.drafted += s.drafted;
      spec.accepted += s.accepted;
      spec.seconds += s.seconds;
    }
    j["mtp_acceptance_rate"] = spec.acceptance_rate();
    // The first token of each run comes from the prefill; the rest from the verification steps.
    j["mtp_tokens_per_step"] = spec.steps ? static_cast<double>((G - 1) * reps) / spec.steps : 0.0;
    j["mtp_speedup"] = spec.seconds > 0 ? plain_s / spec.seconds : 0.0;
  }
  if (as_json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("model      %s (%s)\n", lm.dir.c_str(), cfg.arch_name.c_str());
  std::printf("threads    %d, kernels %s%s\n", thread_pool().size(),
              kernels::isa_name(kernels::kernels().isa),
              ops::fast_bf16() ? " (bf16 dot products: --fast-bf16)" : "");
  std::printf("prefill    %lld tokens: %.1f tok/s\n", static_cast<long long>(P), prefill_tok_s);
  std::printf("decode     %lld x %lld tokens: %.2f tok/s\n", static_cast<long long>(batch),
              static_cast<long long>(G), decode_tok_s);
  std::printf("weights    %.1f MB read per decode step -> %.1f GB/s\n", bytes_per_step / 1e6,
              achieved / 1e9);
  std::printf("KV cache   %lld bytes per token", static_cast<long long>(kv_bytes));
  if (ds)
    std::printf(" (absorbed MLA; the naive form would need %lld)",
                static_cast<long long>(ds->naive_cache_bytes_per_token()));
  std::printf("\n");
  if (spec.drafted)
    std::printf(
        "mtp        %.1f%% of drafts accepted, %.2f tokens per step, %.2fx decode speed "
        "of plain greedy decoding\n",
        100 * spec.acceptance_rate(), j["mtp_tokens_per_step"].get<double>(),
        j["mtp_speedup"].get<double>());
  if (bw > 0)
    std::printf(
        "memory     %.1f GB/s measured read bandwidth: roofline %.1f tok/s, reached %.0f%%\n",
        bw / 1e9, bw / bytes_per_step * batch, 100.0 * achieved / bw);
  return 0;
}

R1_COMMAND({"bench",
            "prefill/decode speed, bytes per token and achieved bandwidth",
            "usage: r1 bench [-m DIR] [flags]\n"
            "  --prompt-tokens P    prefill length (default 128)\n"
            "  --gen-tokens G       decode steps (default 32)\n"
            "  --batch B            sequences decoded together (default 1)\n"
            "  --reps R             timed repetitions after one warm-up; median (default 3)\n"
            "  --no-bandwidth       skip the memory bandwidth measurement\n"
            "  --no-mtp             DeepSeek-V3 with an MTP layer: skip the comparison of MTP\n"
            "                       speculative decoding with plain greedy decoding\n"
            "  --dry-run            from config.json alone (a GGUF file: and its header's\n"
            "                       tensor types): memory needed (weights by dtype, KV cache\n"
            "                       per 1K tokens), activated parameters per token and the\n"
            "                       decode speed this machine's bandwidth allows\n"
            "  --json               one JSON line instead of the table\n"
            "  --quality FILE       instead of speed: each format's distance from the exact\n"
            "                       path on the stored weights over the text of FILE (.jsonl\n"
            "                       rows {\"text\"} or plain text), as llama.cpp's perplexity\n"
            "                       --kl-divergence: mean and 99% KL, top-1 agreement,\n"
            "                       perplexity (the second half of each window scored)\n"
            "  --formats LIST       with --quality (default bf16,bf16-fast,q8_0,q8_0-fast,\n"
            "                       q4_k_m,q4_k_m-fast,q4_0; NAME-fast: with bf16 dot products,\n"
            "                       which quantized weights use for 48 or more rows; stored,\n"
            "                       stored-fast: the weights as stored, e.g. fp8)\n"
            "  --decode             with --quality: score each position by a one-token forward,\n"
            "                       as generation computes it (default: whole windows at once)\n"
            "  --ctx-window N       tokens per window, BOS first (default 512)\n"
            "  --quality-tokens N   positions to score (default 4096)\n",
            {"--json", "--mmap", "--no-mmap", "--fast-bf16", "--exact", "--no-bandwidth",
             "--dry-run", "--decode", "--no-mtp"},
            run_bench,
            kModelFlags});

}  // namespace
}  // namespace r1::cli
