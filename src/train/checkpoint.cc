#include "train/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "io/safetensors.h"
#include "models/lora.h"
#include "models/model.h"

namespace r1::train {

namespace fs = std::filesystem;

namespace {

const char* const kSideFiles[] = {
    "config.json",           "generation_config.json",  "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"};

std::map<std::string, Tensor> converted(const NamedTensors& tensors, DType dtype) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors) {
    if (dtype == DType::F32 || t.dtype != DType::F32) {
      out[name] = t;
      continue;
    }
    Tensor b = Tensor::zeros(DType::BF16, t.shape);
    for (int64_t i = 0; i < t.numel(); ++i) b.ptr<uint16_t>()[i] = f32_to_bf16(t.ptr<float>()[i]);
    out[name] = b;
  }
  return out;
}

void set_dtype(std::map<std::string, std::string>& files, DType dtype) {
  auto it = files.find("config.json");
  if (it == files.end()) return;
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(it->second);
  j["torch_dtype"] = dtype == DType::BF16 ? "bfloat16" : "float32";
  it->second = j.dump(2) + "\n";
}

const std::string kPrefix = "step-";

int64_t step_of(const fs::path& p) {
  const std::string n = p.filename().string();
  if (n.rfind(kPrefix, 0) != 0 || n.size() == kPrefix.size()) return -1;
  for (size_t i = kPrefix.size(); i < n.size(); ++i)
    if (n[i] < '0' || n[i] > '9') return -1;
  if (n.size() - kPrefix.size() > 18) return -1;  // not a step r1 wrote (past int64)
  return std::stoll(n.substr(kPrefix.size()));
}

}  // namespace

std::map<std::string, std::string> model_side_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const char* f : kSideFiles) {
    const std::string p = path_join(dir, f);
    if (file_exists(p)) files[f] = read_file(p);
  }
  return files;
}

void write_folder(const std::string& dir, std::map<std::string, std::string> files,
                  const std::map<std::string, NamedTensors>& tensor_files, DType dtype) {
  set_dtype(files, dtype);
  std::error_code ec;
  if (fs::exists(dir, ec)) fail_usage(dir, " already exists; it is never overwritten");
  const fs::path tmp = dir + ".tmp";
  fs::remove_all(tmp, ec);  // what an interrupted earlier save left
  if (!fs::create_directories(tmp, ec) && ec)
    fail_input(tmp.string(), ": cannot create folder: ", ec.message());
  for (const auto& [name, data] : files) write_file_atomic((tmp / name).string(), data);
  for (const auto& [name, tensors] : tensor_files)
    io::write_safetensors((tmp / name).string(), converted(tensors, dtype));
  // Everything reaches the disk before the folder gets its real name, and the rename itself
  // before anything older is pruned.
  for (const auto& e : fs::directory_iterator(tmp)) fsync_path(e.path().string());
  fsync_path(tmp.string());
  fs::rename(tmp, dir, ec);
  if (ec) fail_input(dir, ": cannot rename ", tmp.string(), " into place: ", ec.message());
  fsync_path(fs::path(dir).parent_path().empty() ? "." : fs::path(dir).parent_path().string());
}

void write_model_files(const std::string& dir, std::map<std::string, std::string> files,
                       const NamedTensors& tensors, DType dtype) {
  set_dtype(files, dtype);
  std::error_code ec;
  if (!fs::create_directories(dir, ec) && ec)
    fail_input(dir, ": cannot create folder: ", ec.message());
  for (const auto& [name, data] : files) write_file_atomic(path_join(dir, name), data);
  io::write_safetensors(path_join(dir, "model.safetensors"), converted(tensors, dtype));
  for (const auto& [name, data] : files) fsync_path(path_join(dir, name));
  fsync_path(path_join(dir, "model.safetensors"));
}

std::string checkpoint_dir(const std::string& out_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%07lld", kPrefix.c_str(), static_cast<long long>(step));
  return path_join(path_join(out_dir, "checkpoints"), name);
}

std::optional<std::string> latest_checkpoint(const std::string& out_dir) {
  const fs::path root = fs::path(out_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return std::nullopt;
  int64_t best = -1;
  std::string path;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const int64_t s = step_of(e.path());
    if (s > best && fs::exists(e.path() / "trainer_state.json")) best = s, path = e.path().string();
  }
  if (best < 0) return std::nullopt;
  return path;
}

void prune_checkpoints(const std::string& out_dir, int keep) {
  const fs::path root = fs::path(out_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  std::vector<std::pair<int64_t, fs::path>> steps;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string n = e.path().filename().string();
    if (n.ends_with(".tmp")) {
      fs::remove_all(e.path(), ec);
      continue;
    }
    const int64_t s = step_of(e.path());
    if (s >= 0) steps.emplace_back(s, e.path());
  }
  std::sort(steps.rbegin(), steps.rend());
  for (size_t i = static_cast<size_t>(std::max(1, keep)); i < steps.size(); ++i)
    fs::remove_all(steps[i].second, ec);
}

std::shared_ptr<models::LoraAdapters> attach_lora(models::Model& model,
                                                  const std::optional<std::string>& latest,
                                                  const models::LoraConfig& config, uint64_t seed) {
  auto adapters = latest ? models::LoraAdapters::load(model, *latest)
                         : models::LoraAdapters::create(model, config, seed);
  model.set_lora(adapters);
  return adapters;
}

void add_trained_weights(models::Model& model, models::LoraAdapters* adapters,
                         const std::string& base_dir, std::map<std::string, std::string>& files,
                         std::map<std::string, NamedTensors>& tensors) {
  if (adapters) {
    files["adapter_config.json"] = adapters->config_json(base_dir);
    tensors["adapter_model.safetensors"] = adapters->parameters();
  } else {
    tensors["model.safetensors"] = model.parameters(true);
  }
}

}  // namespace r1::train
