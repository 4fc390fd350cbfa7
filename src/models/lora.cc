#include "models/lora.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json_util.h"
#include "core/random.h"
#include "io/safetensors.h"
#include "models/model.h"

namespace r1::models {

namespace {

const std::string kPrefix = "base_model.model.";

// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj" when its last
// component is a target, else "".
std::string target_module(const std::string& weight_name, const std::vector<std::string>& targets) {
  const std::string suffix = ".weight";
  if (weight_name.size() <= suffix.size() ||
      weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  const std::string module = weight_name.substr(0, weight_name.size() - suffix.size());
  const std::string last = module.substr(module.rfind('.') + 1);
  return std::find(targets.begin(), targets.end(), last) != targets.end() ? module : "";
}

// The model's 2-D weights that the targets name, by module.
std::map<std::string, Tensor*> target_weights(Model& model, const LoraConfig& c) {
  if (model.config().arch == io::Arch::DeepseekV3)
    fail_usage("LoRA adapters are supported for Qwen2 and Llama models, not DeepSeek-V3");
  std::map<std::string, Tensor*> out;
  for (const ParamSlot& s : model.parameter_slots()) {
    const std::string m = s.name.empty() ? "" : target_module(s.name, c.targets);
    if (!m.empty() && s.t->ndim() == 2) out[m] = s.t;
  }
  if (out.empty()) fail_usage("no projection of this model matches the LoRA targets");
  return out;
}

}  // namespace

std::shared_ptr<LoraAdapters> LoraAdapters::create(Model& model, const LoraConfig& c,
                                                   uint64_t seed) {
  if (c.rank < 1) fail_usage("the LoRA rank must be at least 1");
  auto ad = std::make_shared<LoraAdapters>();
  ad->config_ = c;
  SplitMix64 rng(seed * 0x9e3779b97f4a7c15ull + 0x10a);
  for (const auto& [module, w] : target_weights(model, c)) {
    const int64_t out = w->dim(0), in = w->dim(1);
    LoraPair p;
    p.a = Tensor::zeros(DType::F32, {c.rank, in});
    p.b = Tensor::zeros(DType::F32, {out, c.rank});
    p.scale = static_cast<float>(c.alpha / static_cast<double>(c.rank));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform(a=sqrt(5))
    for (int64_t i = 0; i < p.a.numel(); ++i)
      p.a.ptr<float>()[i] = static_cast<float>((rng.unit() * 2 - 1) * bound);
    ad->by_module_[module] = p;
    ad->by_weight_[w->data] = &ad->by_module_[module];
  }
  return ad;
}

std::shared_ptr<LoraAdapters> LoraAdapters::load(Model& model, const std::string& dir) {
  const std::string cfg_path = path_join(dir, "adapter_config.json");
  const nlohmann::json j = read_json_file(cfg_path);
  if (json_string(j, "peft_type", cfg_path, "LORA") != "LORA")
    fail_input(cfg_path, ": only LoRA adapters are supported");
  LoraConfig c;
  c.rank = json_int(j, "r", cfg_path);
  c.alpha = json_number(j, "lora_alpha", cfg_path);
  if (c.rank < 1 || c.rank > 65536 || !(c.alpha > 0))
    fail_input(cfg_path, ": r and lora_alpha must be positive");
  const nlohmann::json& t = json_field(j, "target_modules", cfg_path);
  if (!t.is_array()) fail_input(cfg_path, ": target_modules must be a list of module names");
  c.targets.clear();
  for (const auto& m : t) {
    if (!m.is_string()) fail_input(cfg_path, ": target_modules must be a list of module names");
    c.targets.push_back(m.get<std::string>());
  }
  auto ad = std::make_shared<LoraAdapters>();
  ad->config_ = c;
  const std::string file = path_join(dir, "adapter_model.safetensors");
  io::WeightStore store = io::WeightStore::open_file(file, LoadMode::Read);
  size_t used = 0;
  for (const auto& [module, w] : target_weights(model, c)) {
    const std::string na = kPrefix + module + ".lora_A.weight",
                      nb = kPrefix + module + ".lora_B.weight";
    if (!store.has(na) || !store.has(nb)) continue;  // PEFT may leave a target module out
    LoraPair p;
    for (auto [name, dst, shape] :
         {std::tuple{na, &p.a, std::vector<int64_t>{c.rank, w->dim(1)}},
          std::tuple{nb, &p.b, std::vector<int64_t>{w->dim(0), c.rank}}}) {
      Tensor src = store.get(name);
      if (src.shape != shape || src.dtype != DType::F32)
        fail_input(file, ": ", name, " is ", dtype_name(src.dtype), " ", src.shape_str(),
                   ", expected F32 [", shape[0], ", ", shape[1], "]");
      *dst = Tensor::zeros(DType::F32, shape);
      std::copy_n(src.ptr<float>(), src.numel(), dst->ptr<float>());
      ++used;
    }
    p.scale = static_cast<float>(c.alpha / static_cast<double>(c.rank));
    ad->by_module_[module] = p;
    ad->by_weight_[w->data] = &ad->by_module_[module];
  }
  if (used != store.names().size())
    fail_input(file, ": ", store.names().size() - used,
               " tensors name no projection of this model (a different base model?)");
  if (ad->by_module_.empty()) fail_input(file, ": no adapter tensors");
  return ad;
}

LoraConfig LoraAdapters::make_config(int64_t rank, double alpha, const std::string& targets) {
  LoraConfig c;
  c.rank = rank;
  c.alpha = alpha;
  if (!targets.empty()) {
    c.targets.clear();
    for (size_t b = 0; b <= targets.size();) {
      size_t e = targets.find(',', b);
      if (e == std::string::npos) e = targets.size();
      if (e > b) c.targets.push_back(targets.substr(b, e - b));
      b = e + 1;
    }
  }
  return c;
}

std::string LoraAdapters::config_json(const std::string& base_model) const {
  nlohmann::ordered_json j = {{"peft_type", "LORA"},
                              {"task_type", "CAUSAL_LM"},
                              {"base_model_name_or_path", base_model},
                              {"r", config_.rank},
                              {"lora_alpha", config_.alpha},
                              {"lora_dropout", 0.0},
                              {"bias", "none"},
                              {"target_modules", config_.targets},
                              {"fan_in_fan_out", false},
                              {"inference_mode", true}};
  return j.dump(2) + "\n";
}

void LoraAdapters::save(const std::string& dir, const std::string& base_model) const {
  write_file_atomic(path_join(dir, "adapter_config.json"), config_json(base_model));
  const auto params = parameters();
  const std::map<std::string, Tensor> tensors(params.begin(), params.end());
  io::write_safetensors(path_join(dir, "adapter_model.safetensors"), tensors);
}

const LoraPair* LoraAdapters::find(const Tensor& weight) const {
  auto it = by_weight_.find(weight.data);
  return it == by_weight_.end() ? nullptr : it->second;
}

std::vector<std::pair<std::string, Tensor>> LoraAdapters::parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [module, p] : by_module_) {
    out.emplace_back(kPrefix + module + ".lora_A.weight", p.a);
    out.emplace_back(kPrefix + module + ".lora_B.weight", p.b);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor*>> LoraAdapters::slots() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [module, p] : by_module_) {
    out.emplace_back(kPrefix + module + ".lora_A.weight", &p.a);
    out.emplace_back(kPrefix + module + ".lora_B.weight", &p.b);
  }
  return out;
}

void merge_lora(Model& model, const LoraAdapters& adapters) {
  for (const ParamSlot& s : model.parameter_slots()) {
    if (s.name.empty()) continue;
    const LoraPair* p = adapters.find(*s.t);
    if (!p) continue;
    if (s.t->dtype != DType::F32) fail_internal("merge_lora needs f32 weights (trainable load)");
    const int64_t out = s.t->dim(0), in = s.t->dim(1), r = p->a.dim(0);
    float* w = s.t->ptr<float>();
    for (int64_t o = 0; o < out; ++o)
      for (int64_t k = 0; k < r; ++k) {
        const float bk = p->scale * p->b.ptr<float>()[o * r + k];
        const float* a = p->a.ptr<float>() + k * in;
        for (int64_t i = 0; i < in; ++i) w[o * in + i] += bk * a[i];
      }
  }
}

}  // namespace r1::models
