#include "cli/bench_quality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json_util.h"
#include "io/quant_mix.h"
#include "ops/ops.h"

namespace r1::cli {

namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  const std::string raw = read_file(path);
  if (path.size() < 6 || path.compare(path.size() - 6, 6, ".jsonl") != 0) return raw;
  std::string text;
  std::istringstream in(raw);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = parse_json(line, path + ":" + std::to_string(n));
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail_input(path, ":", n, ": expected an object with a string \"text\"");
    if (!text.empty()) text += "\n\n";
    text += j["text"].get<std::string>();
  }
  return text;
}

// One format: the model it runs and whether with bf16 dot products.
struct Format {
  std::string name;
  models::Model* model = nullptr;
  bool fast = false;
  std::vector<double> kl;  // per scored position
  int64_t same_top = 0;
  double nll = 0;
};

// log-softmax of one row of logits, in double (not ops::log_softmax_'s f32: the KL of two close
// distributions, 1e-6 here, is a sum of differences of log-probabilities as large as 20).
void log_softmax(const float* x, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  double mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - mx);
  const double lse = mx + std::log(s);
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = x[i] - lse;
}

// The logits at positions [first, n - 1) of window w: with `decode`, the tokens up to `first` as
// one prompt, then one token per forward (the products of generation); else the whole window as
// one prompt (the products of prefill and scoring).
Tensor run_window(models::Model& m, bool fast, const std::vector<int32_t>& w, int64_t first,
                  bool decode) {
  ops::set_fast_bf16(fast);
  models::KvCache cache = m.new_cache();
  const int seq = cache.add_sequence();
  const int64_t n = static_cast<int64_t>(w.size());
  const int64_t prompt = decode ? first + 1 : n;
  models::Batch b;
  for (int64_t i = 0; i < prompt; ++i)
    b.add(w[static_cast<size_t>(i)], static_cast<int32_t>(i), seq, i >= first && i + 1 < n);
  Tensor logits = m.forward(b, cache);
  if (decode && prompt + 1 < n) {
    const int64_t V = m.config().vocab;
    Tensor all = Tensor::empty(DType::F32, {n - 1 - first, V});
    std::copy_n(logits.ptr<float>(), V, all.ptr<float>());
    for (int64_t i = prompt; i + 1 < n; ++i) {
      models::Batch one;
      one.add(w[static_cast<size_t>(i)], static_cast<int32_t>(i), seq, true);
      const Tensor row = m.forward(one, cache);
      std::copy_n(row.ptr<float>(), V, all.ptr<float>() + (i - first) * V);
    }
    logits = all;
  }
  ops::set_fast_bf16(false);
  return logits;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int run_quality(LoadedModel& lm, const QualityOptions& o) {
  if (!lm.tokenizer) fail_input(lm.dir, ": --quality needs the model's tokenizer.json");
  if (o.window < 4) fail_usage("--ctx-window must be at least 4");
  models::Model& ref = *lm.model;
  const int64_t V = ref.config().vocab;
  const DType stored = ref.output_embedding().dtype;
  // "bf16" is the reference itself when the matrices are stored bf16; fp8 matrices (with block
  // scales) are rounded to bf16 times their scales, as bf16 inference dequantizes them.
  bool fp8 = false;
  for (const models::ParamSlot& s : ref.parameter_slots()) fp8 = fp8 || s.scale != nullptr;
  const bool bf16_is_ref = stored == DType::BF16 && !fp8;
  if (stored != DType::F32 && stored != DType::BF16 && stored != DType::F16)
    fail_usage(
        "--quality compares formats with the stored f32/bf16/f16 weights; this model's "
        "are ",
        dtype_name(stored), " (measure from the Hugging Face folder)");

  // The formats, each model loaded once (mapped: the stored pages are shared).
  std::vector<Format> formats;
  std::vector<std::unique_ptr<models::Model>> owned;
  std::vector<std::pair<std::string, models::Model*>> loaded;  // by --quantize name
  auto model_for = [&](const std::string& mix_name) -> models::Model* {
    for (auto& [n, m] : loaded)
      if (n == mix_name) return m;
    io::QuantMix mix;
    if (!io::parse_quant_mix(mix_name, &mix) || mix == io::QuantMix::F32)
      fail_usage("--formats: unknown format \"", mix_name,
                 "\" (stored, bf16, f16, q8_0, q4_k_m, q4_0; each with -fast: bf16 dot products)");
    models::LoadOptions opt;
    opt.load = LoadMode::Map;
    opt.quantize = mix;
    owned.push_back(models::load_model(lm.dir, opt));
    loaded.emplace_back(mix_name, owned.back().get());
    return owned.back().get();
  };
  std::stringstream list(o.formats);
  for (std::string name; std::getline(list, name, ',');) {
    if (name.empty()) continue;
    Format f;
    f.name = name;
    const bool fast = name.size() > 5 && name.compare(name.size() - 5, 5, "-fast") == 0;
    const std::string base = fast ? name.substr(0, name.size() - 5) : name;
    if (base == "stored") {  // the reference's own weights, with or without bf16 dot products
      f.model = &ref;
      f.fast = fast;
    } else if (base == "bf16" && fast) {
      f.model = bf16_is_ref ? &ref : model_for("bf16");
      f.fast = true;
    } else if (fast) {  // a quantized format with bf16 dot products (bf16 panels, many rows)
      f.model = model_for(base);
      f.fast = true;
    } else {
      f.model = (name == "bf16" && bf16_is_ref) ? &ref : model_for(name);
    }
    formats.push_back(std::move(f));
  }
  if (formats.empty()) fail_usage("--formats lists no format");

  // Windows of the text: BOS (when the tokenizer has one) and window - 1 tokens each.
  const std::vector<int32_t> ids = lm.tokenizer->encode(read_text(o.file));
  const int32_t bos = lm.tokenizer->bos_id();
  const int64_t body = bos >= 0 ? o.window - 1 : o.window, first = o.window / 2;
  const int64_t per_window = o.window - 1 - first;
  const int64_t want = std::max<int64_t>(1, (o.tokens + per_window - 1) / per_window);
  const int64_t n_windows = std::min<int64_t>(want, static_cast<int64_t>(ids.size()) / body);
  if (n_windows < 1)
    fail_input(o.file, ": ", ids.size(), " tokens, fewer than one window of ", o.window);

  double ref_nll = 0;
  int64_t scored = 0;
  std::vector<double> lr, lq;
  for (int64_t w = 0; w < n_windows; ++w) {
    std::vector<int32_t> win;
    if (bos >= 0) win.push_back(bos);
    win.insert(win.end(), ids.begin() + w * body, ids.begin() + (w + 1) * body);
    const Tensor r = run_window(ref, false, win, first, o.decode);
    for (Format& f : formats) {
      const Tensor q = run_window(*f.model, f.fast, win, first, o.decode);
      for (int64_t i = 0; i < per_window; ++i) {
        const float* rr = r.ptr<float>() + i * V;
        const float* qr = q.ptr<float>() + i * V;
        log_softmax(rr, V, lr);
        log_softmax(qr, V, lq);
        double kl = 0;
        for (int64_t v = 0; v < V; ++v)
          kl += std::exp(lr[static_cast<size_t>(v)]) *
                (lr[static_cast<size_t>(v)] - lq[static_cast<size_t>(v)]);
        f.kl.push_back(std::max(0.0, kl));
        f.same_top += (std::max_element(rr, rr + V) - rr) == (std::max_element(qr, qr + V) - qr);
        f.nll -= lq[static_cast<size_t>(win[static_cast<size_t>(first + i + 1)])];
      }
    }
    for (int64_t i = 0; i < per_window; ++i) {
      log_softmax(r.ptr<float>() + i * V, V, lr);
      ref_nll -= lr[static_cast<size_t>(win[static_cast<size_t>(first + i + 1)])];
    }
    scored += per_window;
  }

  const double n = static_cast<double>(scored);
  json out = {{"file", o.file},
              {"windows", n_windows},
              {"window", o.window},
              {"positions", scored},
              {"decode", o.decode},
              {"reference", {{"dtype", dtype_name(stored)}, {"ppl", std::exp(ref_nll / n)}}}};
  for (const Format& f : formats) {
    double mean = 0;
    for (double k : f.kl) mean += k;
    out["formats"].push_back({{"format", f.name},
                              {"kl_mean", mean / n},
                              {"kl_p99", percentile(f.kl, 0.99)},
                              {"top1", static_cast<double>(f.same_top) / n},
                              {"ppl", std::exp(f.nll / n)},
                              {"ln_ppl_ratio", (f.nll - ref_nll) / n}});
  }
  if (o.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("quality    %s: %lld windows of %lld tokens, %lld positions scored%s\n",
              o.file.c_str(), static_cast<long long>(n_windows), static_cast<long long>(o.window),
              static_cast<long long>(scored), o.decode ? " one token at a time (decode)" : "");
  std::printf("reference  %s weights, exact f32 compute: perplexity %.4f\n", dtype_name(stored),
              out["reference"]["ppl"].get<double>());
  std::printf("%-12s %12s %12s %8s %12s %14s\n", "format", "mean KL", "99% KL", "top-1",
              "perplexity", "ln(PPL ratio)");
  for (const json& f : out["formats"])
    std::printf("%-12s %12.3e %12.3e %8.4f %12.4f %14.3e\n", f["format"].get<std::string>().c_str(),
                f["kl_mean"].get<double>(), f["kl_p99"].get<double>(), f["top1"].get<double>(),
                f["ppl"].get<double>(), f["ln_ppl_ratio"].get<double>());
  return 0;
}

}  // namespace r1::cli
