#include "models/model.h"

#include "models/deepseek_v3.h"
#include "models/dense.h"

namespace r1::models {

std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& opt) {
  io::ModelConfig cfg = io::ModelConfig::load(dir);
  io::WeightStore store = io::WeightStore::open_dir(dir, opt.use_mmap);
  if (cfg.arch == io::Arch::DeepseekV3)
    return std::make_unique<DeepseekV3Model>(cfg, std::move(store), opt);
  return std::make_unique<DenseModel>(cfg, std::move(store), opt);
}

}  // namespace r1::models
