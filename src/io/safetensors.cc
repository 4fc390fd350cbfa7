#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "io/gguf_import.h"

namespace r1::io {

using nlohmann::json;

namespace {
constexpr uint64_t kMaxHeader = 256ull << 20;  // a header past 256 MiB is corrupt, not large

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// numel * element size with overflow checks; false on overflow.
// The bound holds for the product of the nonzero dimensions too, so that an empty tensor such as
// [0, 2^40, 2^40] cannot carry strides past int64.
bool checked_bytes(const std::vector<int64_t>& shape, size_t elem, uint64_t* out) {
  const unsigned __int128 limit = static_cast<unsigned __int128>(1) << 62;
  unsigned __int128 n = elem, nonzero = elem;
  for (int64_t d : shape) {
    n *= static_cast<uint64_t>(d);
    if (d != 0) nonzero *= static_cast<uint64_t>(d);
    if (n > limit || nonzero > limit) return false;
  }
  *out = static_cast<uint64_t>(n);
  return true;
}
}  // namespace

void WeightStore::add_file(const std::string& path, LoadMode mode,
                           const std::map<std::string, int>* expect) {
  auto f = MappedFile::open(path, mode);
  if (f->size() < 8) fail_input(path, ": truncated safetensors file (", f->size(), " bytes)");
  uint64_t n = read_u64_le(f->data());
  if (n > kMaxHeader || n > f->size() - 8)
    fail_input(path, ": header length ", n, " exceeds the file size ", f->size(),
               " (truncated or not a safetensors file)");
  json header;
  try {
    header = json::parse(f->data() + 8, f->data() + 8 + n);
  } catch (const json::exception& e) {
    fail_input(path, ": header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail_input(path, ": header is not a JSON object");
  uint64_t data_size = f->size() - 8 - n;
  int index = static_cast<int>(files_.size());
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const json& e = it.value();
    auto where = [&] { return cat(path, ": tensor ", name); };
    if (!e.is_object()) fail_input(where(), ": entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) fail_input(where(), ": missing dtype");
    TensorInfo info;
    std::string dt = e["dtype"].get<std::string>();
    if (!parse_dtype(dt, &info.dtype)) fail_input(where(), ": unsupported dtype ", dt);
    if (!e.contains("shape") || !e["shape"].is_array()) fail_input(where(), ": missing shape");
    for (const json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        fail_input(where(), ": bad shape ", e["shape"].dump());
      info.shape.push_back(d.get<int64_t>());
    }
    const json& off = e.contains("data_offsets") ? e["data_offsets"] : json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail_input(where(), ": missing or bad data_offsets");
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    uint64_t want;
    if (!checked_bytes(info.shape, dtype_size(info.dtype), &want))
      fail_input(where(), ": shape ", e["shape"].dump(), " is too large");
    if (info.begin > info.end || info.end > data_size)
      fail_input(where(), ": data_offsets [", info.begin, ", ", info.end,
                 "] outside the data section of ", data_size, " bytes (truncated file?)");
    if (info.end - info.begin != want)
      fail_input(where(), ": data_offsets span ", info.end - info.begin, " bytes but ", dt,
                 e["shape"].dump(), " needs ", want);
    if (expect) {
      auto x = expect->find(name);
      if (x == expect->end() || x->second != index) continue;  // the index maps it elsewhere
    }
    if (tensors_.count(name)) fail_input(where(), ": tensor appears in two files");
    info.file = index;
    ranges.emplace_back(info.begin, info.end);
    tensors_[name] = std::move(info);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second && ranges[i].first != ranges[i].second)
      fail_input(path, ": tensors overlap in the data section");
  files_.push_back(f);
  data_start_.push_back(8 + n);
}

WeightStore WeightStore::open_file(const std::string& path, LoadMode mode) {
  WeightStore s;
  s.add_file(path, mode, nullptr);
  return s;
}

void WeightStore::add_tensor(const std::string& name, Tensor t, const std::string& source) {
  R1_ASSERT(t.is_contiguous());
  if (tensors_.count(name)) fail_input(source, ": tensor ", name, " appears twice");
  TensorInfo i;
  i.dtype = t.dtype;
  i.shape = t.shape;
  i.file = -1;
  i.end = t.nbytes();
  tensors_[name] = i;
  held_[name] = {std::move(t), source};
}

WeightStore WeightStore::open_dir(const std::string& dir, LoadMode mode) {
  if (file_exists(path_join(dir, kGgufSourceFile))) return open_gguf_folder(dir, mode);
  std::string single = path_join(dir, "model.safetensors");
  std::string index = path_join(dir, "model.safetensors.index.json");
  if (file_exists(single)) return open_file(single, mode);
  if (!file_exists(index))
    fail_input(dir, ": no model.safetensors or model.safetensors.index.json");
  json j;
  try {
    j = json::parse(read_file(index));
  } catch (const json::exception& e) {
    fail_input(index, ": not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail_input(index, ": missing weight_map object");
  std::vector<std::string> shards;
  std::map<std::string, int> expect;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail_input(index, ": weight_map[", it.key(), "] is not a string");
    std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
      fail_input(index, ": weight_map[", it.key(), "] names a bad file '", shard, "'");
    auto pos = std::find(shards.begin(), shards.end(), shard);
    int k = static_cast<int>(pos - shards.begin());
    if (pos == shards.end()) shards.push_back(shard);
    expect[it.key()] = k;
  }
  WeightStore s;
  for (const auto& shard : shards) s.add_file(path_join(dir, shard), mode, &expect);
  for (const auto& [name, k] : expect)
    if (!s.has(name))
      fail_input(index, ": tensor ", name, " is listed in ", shards[k], " but that file lacks it");
  return s;
}

const TensorInfo& WeightStore::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_input("checkpoint has no tensor ", name);
  return it->second;
}

Tensor WeightStore::get(const std::string& name) const {
  const TensorInfo& i = info(name);
  if (i.file < 0) return held_.at(name).first;
  const auto& f = files_[i.file];
  void* p = const_cast<uint8_t*>(f->data()) + data_start_[i.file] + i.begin;
  return Tensor::view_of(i.dtype, i.shape, p, f);
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> n;
  for (const auto& kv : tensors_) n.push_back(kv.first);
  return n;
}

const std::string& WeightStore::file_of(const std::string& name) const {
  const TensorInfo& i = info(name);
  if (i.file < 0) return held_.at(name).second;
  return files_[i.file]->path();
}

uint64_t WeightStore::total_bytes() const {
  uint64_t t = 0;
  for (const auto& kv : tensors_) t += kv.second.end - kv.second.begin;
  return t;
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& [name, t] : tensors) {
    R1_ASSERT(t.is_contiguous());
    header[name] = {{"dtype", dtype_name(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {off, off + t.nbytes()}}};
    off += t.nbytes();
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += h;
  out.reserve(out.size() + off);
  for (const auto& [name, t] : tensors) out.append(static_cast<const char*>(t.data), t.nbytes());
  write_file_atomic(path, out);
}

}  // namespace r1::io
