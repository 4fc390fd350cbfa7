#include "models/weights.h"

#include <unordered_map>

#include "core/error.h"
#include "models/checked_weights.h"

namespace r1::models {

namespace {

ops::Weight load_one(const io::ModelConfig& cfg, const io::WeightStore& store,
                     const io::TensorSpec& s) {
  ops::Weight w;
  switch (s.storage) {
    case io::Storage::Float:
      w.w = float_tensor(store, s.name, s.shape);
      break;
    case io::Storage::F32:
      w.w = store.get(s.name);
      if (w.w.dtype != DType::F32 || w.w.shape != s.shape)
        fail_input("tensor ", s.name, " must be F32 [", s.shape[0], "], got ",
                   dtype_name(w.w.dtype), w.w.shape_str());
      break;
    case io::Storage::Matrix:
      w.w = matrix_tensor(store, s.name, s.shape);
      break;
    case io::Storage::Linear: {
      const std::string prefix = s.name.substr(0, s.name.size() - std::string(".weight").size());
      w = matrix(store, prefix, s.shape[0], s.shape[1], cfg.ds.fp8_block_out, cfg.ds.fp8_block_in);
      break;
    }
  }
  return w;
}

}  // namespace

Weights::Weights(const io::ModelConfig& cfg, const io::WeightStore& store,
                 std::vector<io::TensorSpec> table)
    : specs_(std::move(table)) {
  n_layers_ = cfg.n_layers;
  n_experts_ = cfg.ds.n_routed_experts;
  index_.assign(static_cast<size_t>((n_layers_ + 2) * (n_experts_ + 1) *
                                    static_cast<int64_t>(io::Role::Count)),
                -1);
  std::unordered_map<std::string, size_t> by_name;
  w_.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    const io::TensorSpec& s = specs_[i];
    by_name[s.name] = i;
    index_[static_cast<size_t>(key(s.role, s.layer, s.expert))] = static_cast<int32_t>(i);
    const bool own = s.alias.empty() || (s.optional && store.has(s.name));
    own_.push_back(own);
    if (own) {
      if (!s.optional || store.has(s.name)) w_[i] = load_one(cfg, store, s);
      continue;
    }
    auto it = by_name.find(s.alias);
    R1_ASSERT(it != by_name.end());  // the table lists an alias after what it aliases
    w_[i] = w_[it->second];
  }
}

int64_t Weights::key(io::Role role, int64_t layer, int64_t expert) const {
  R1_ASSERT(layer >= -1 && layer <= n_layers_ && expert >= -1 && expert < n_experts_);
  return ((layer + 1) * (n_experts_ + 1) + expert + 1) * static_cast<int64_t>(io::Role::Count) +
         static_cast<int64_t>(role);
}

const ops::Weight* Weights::find(io::Role role, int64_t layer, int64_t expert) const {
  const int32_t i = index_[static_cast<size_t>(key(role, layer, expert))];
  if (i < 0 || !w_[static_cast<size_t>(i)].w.defined()) return nullptr;
  return &w_[static_cast<size_t>(i)];
}

const ops::Weight& Weights::get(io::Role role, int64_t layer, int64_t expert) const {
  const ops::Weight* w = find(role, layer, expert);
  R1_ASSERT(w != nullptr);
  return *w;
}

std::vector<ParamSlot> Weights::slots() {
  std::vector<ParamSlot> out;
  out.reserve(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    const io::TensorSpec& s = specs_[i];
    out.push_back({own_[i] ? s.name : std::string(), &w_[i].w, s.frozen, &w_[i].scale, s.role});
  }
  return out;
}

uint64_t Weights::bytes_per_token() const {
  uint64_t total = 0;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const io::TensorSpec& s = specs_[i];
    const ops::Weight& w = w_[i];
    if (!w.w.defined()) continue;
    if (s.role == io::Role::Embed)
      total += w.w.nbytes() / static_cast<uint64_t>(w.w.dim(0));
    else if (s.per_token)
      total += w.nbytes();
  }
  return total;
}

}  // namespace r1::models
