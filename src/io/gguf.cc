#include "io/gguf.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/file_util.h"

namespace r1::io {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kMaxCount = 1ull << 24;
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;

const char* type_name(GgufType t) {
  static const char* const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

// Bytes of one value of a fixed-size type; 0 for string and array.
uint64_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

bool is_int(GgufType t) {
  return t == GgufType::U8 || t == GgufType::I8 || t == GgufType::U16 || t == GgufType::I16 ||
         t == GgufType::U32 || t == GgufType::I32 || t == GgufType::U64 || t == GgufType::I64 ||
         t == GgufType::Bool;
}

// A bounds-checked cursor over the file.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path)
      : p_(data), n_(size), path_(path) {}
  uint64_t pos() const { return pos_; }

  void need(uint64_t k, const std::string& what) const {
    if (k > n_ - pos_)
      fail_input(path_, ": truncated: ", what, " needs ", k, " bytes at offset ", pos_, " of ", n_);
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    uint64_t len = read<uint64_t>(what + " length");
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  int64_t integer(GgufType t, const std::string& what) {
    switch (t) {
      case GgufType::U8:
      case GgufType::Bool:
        return read<uint8_t>(what);
      case GgufType::I8:
        return read<int8_t>(what);
      case GgufType::U16:
        return read<uint16_t>(what);
      case GgufType::I16:
        return read<int16_t>(what);
      case GgufType::U32:
        return read<uint32_t>(what);
      case GgufType::I32:
        return read<int32_t>(what);
      case GgufType::I64:
        return read<int64_t>(what);
      default: {
        uint64_t v = read<uint64_t>(what);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail_input(path_, ": ", what, " is ", v, ", past the largest value r1 accepts");
        return static_cast<int64_t>(v);
      }
    }
  }
  double floating(GgufType t, const std::string& what) {
    if (t == GgufType::F32) return read<float>(what);
    return read<double>(what);
  }

  GgufValue value(GgufType t, const std::string& key, bool in_array) {
    GgufValue v;
    v.type = t;
    if (is_int(t)) {
      v.i = integer(t, key);
      if (t == GgufType::Bool && v.i > 1) fail_input(path_, ": ", key, ": bool value ", v.i);
    } else if (t == GgufType::F32 || t == GgufType::F64) {
      v.f = floating(t, key);
    } else if (t == GgufType::String) {
      v.s = string(key);
    } else if (t == GgufType::Array && !in_array) {
      auto elem = static_cast<GgufType>(read<uint32_t>(key + " element type"));
      uint64_t count = read<uint64_t>(key + " element count");
      if (elem == GgufType::Array) fail_input(path_, ": ", key, ": arrays of arrays are not read");
      uint64_t min = elem == GgufType::String ? 8 : fixed_size(elem);
      if (min == 0) fail_input(path_, ": ", key, ": unknown array element type ", uint32_t(elem));
      if (count > (n_ - pos_) / min)
        fail_input(path_, ": ", key, ": ", count, " elements do not fit in the file");
      v.elem = elem;
      for (uint64_t k = 0; k < count; ++k) {
        GgufValue e = value(elem, key, true);
        if (elem == GgufType::String) {
          v.strings.push_back(std::move(e.s));
        } else if (is_int(elem)) {
          v.ints.push_back(e.i);
        } else {
          v.floats.push_back(e.f);
        }
      }
    } else {
      fail_input(path_, ": ", key, ": unknown value type ", static_cast<uint32_t>(t));
    }
    return v;
  }

 private:
  const uint8_t* p_;
  uint64_t n_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

}  // namespace

GgufValue GgufValue::of_int(GgufType t, int64_t v) {
  GgufValue g;
  g.type = t;
  g.i = v;
  return g;
}
GgufValue GgufValue::of_float(double v) {
  GgufValue g;
  g.type = GgufType::F32;
  g.f = v;
  return g;
}
GgufValue GgufValue::of_bool(bool v) {
  return of_int(GgufType::Bool, v ? 1 : 0);
}
GgufValue GgufValue::of_string(std::string v) {
  GgufValue g;
  g.type = GgufType::String;
  g.s = std::move(v);
  return g;
}
GgufValue GgufValue::of_strings(std::vector<std::string> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = GgufType::String;
  g.strings = std::move(v);
  return g;
}
GgufValue GgufValue::of_ints(GgufType elem, std::vector<int64_t> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = elem;
  g.ints = std::move(v);
  return g;
}
GgufValue GgufValue::of_floats(std::vector<double> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = GgufType::F32;
  g.floats = std::move(v);
  return g;
}

namespace {
// The ggml types r1 reads and writes, with r1's dtype and llama.cpp's name of each.
const struct {
  GgmlType ggml;
  DType dtype;
  const char* name;
} kTypes[] = {{GgmlType::F32, DType::F32, "F32"},    {GgmlType::F16, DType::F16, "F16"},
              {GgmlType::BF16, DType::BF16, "BF16"}, {GgmlType::Q8_0, DType::Q8_0, "Q8_0"},
              {GgmlType::Q4_0, DType::Q4_0, "Q4_0"}, {GgmlType::Q5_0, DType::Q5_0, "Q5_0"},
              {GgmlType::Q4_K, DType::Q4_K, "Q4_K"}, {GgmlType::Q6_K, DType::Q6_K, "Q6_K"}};
}  // namespace

bool ggml_to_dtype(GgmlType t, DType* out) {
  for (const auto& e : kTypes)
    if (e.ggml == t) {
      *out = e.dtype;
      return true;
    }
  return false;
}

bool dtype_to_ggml(DType t, GgmlType* out) {
  for (const auto& e : kTypes)
    if (e.dtype == t) {
      *out = e.ggml;
      return true;
    }
  return false;
}

const char* ggml_type_name(GgmlType t) {
  for (const auto& e : kTypes)
    if (e.ggml == t) return e.name;
  return "?";
}

// "F32, F16, ...": the types r1 reads, for the error message.
static std::string readable_types() {
  std::string s;
  for (const auto& e : kTypes) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

// llama.cpp's names of the types r1 cannot read yet, for the error message.
static const char* other_ggml_name(uint32_t t) {
  static const char* const names[] = {"F32",  "F16",  "Q4_0", "Q4_1", "Q4_2", "Q4_3",
                                      "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
                                      "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
  return t < 16 ? names[t] : "a ggml type";
}

GgufFile GgufFile::open(const std::string& path, LoadMode mode) {
  GgufFile g;
  g.path_ = path;
  g.file_ = MappedFile::open(path, mode);
  Cursor c(g.file_->data(), g.file_->size(), g.path_);
  if (g.file_->size() < 4 || c.read<uint32_t>("magic") != kMagic)
    fail_input(path, ": not a GGUF file (no \"GGUF\" magic)");
  g.version_ = c.read<uint32_t>("version");
  if (g.version_ != 2 && g.version_ != 3)
    fail_input(path, ": GGUF version ", g.version_, " (r1 reads versions 2 and 3)");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_meta = c.read<uint64_t>("metadata count");
  if (n_tensors > kMaxCount || n_meta > kMaxCount)
    fail_input(path, ": ", n_tensors, " tensors and ", n_meta, " metadata keys: not a model file");
  for (uint64_t k = 0; k < n_meta; ++k) {
    std::string key = c.string("metadata key " + std::to_string(k));
    auto type = static_cast<GgufType>(c.read<uint32_t>(key + " type"));
    for (const auto& [existing, v] : g.meta_)
      if (existing == key) fail_input(path, ": metadata key ", key, " appears twice");
    g.meta_.emplace_back(key, c.value(type, key, false));
  }
  uint64_t alignment = kDefaultAlignment;
  if (const GgufValue* a = g.find("general.alignment")) {
    if (a->type != GgufType::U32 || a->i == 0 || (a->i & (a->i - 1)) != 0 || a->i > (1 << 20))
      fail_input(path, ": general.alignment must be a u32 power of two, not ", a->i);
    alignment = static_cast<uint64_t>(a->i);
  }
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = c.string("tensor name " + std::to_string(k));
    const std::string where = "tensor " + t.name;
    uint32_t dims = c.read<uint32_t>(where + " dims");
    if (dims == 0 || dims > kMaxDims) fail_input(path, ": ", where, " has ", dims, " dimensions");
    for (uint32_t d = 0; d < dims; ++d) {
      uint64_t ne = c.read<uint64_t>(where + " shape");
      if (ne == 0 || ne > (1ull << 40)) fail_input(path, ": ", where, " has a dimension of ", ne);
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    uint32_t type = c.read<uint32_t>(where + " type");
    t.type = static_cast<GgmlType>(type);
    DType dt;
    if (!ggml_to_dtype(t.type, &dt))
      fail_input(path, ": ", where, " is ", other_ggml_name(type), " (ggml type ", type,
                 "), which r1 does not read yet (it reads ", readable_types(), ")");
    t.offset = c.read<uint64_t>(where + " offset");
    if (t.ne[0] % dtype_block(dt) != 0)
      fail_input(path, ": ", where, ": rows of ", t.ne[0], " are not whole ",
                 ggml_type_name(t.type), " blocks");
    unsigned __int128 bytes = dtype_bytes(dt, t.ne[0]);
    for (size_t d = 1; d < t.ne.size(); ++d) {
      bytes *= static_cast<uint64_t>(t.ne[d]);
      if (bytes > (static_cast<unsigned __int128>(1) << 62))
        fail_input(path, ": ", where, " is too large");
    }
    t.bytes = static_cast<uint64_t>(bytes);
    if (t.offset % alignment != 0)
      fail_input(path, ": ", where, " offset ", t.offset, " is not aligned to ", alignment);
    if (g.tensor_index_.count(t.name)) fail_input(path, ": ", where, " appears twice");
    g.tensor_index_[t.name] = g.tensors_.size();
    g.tensors_.push_back(std::move(t));
  }
  g.data_start_ = align_up(c.pos(), alignment);
  uint64_t size = g.file_->size();
  if (g.data_start_ > size) fail_input(path, ": truncated before the tensor data");
  uint64_t data_size = size - g.data_start_;
  for (const auto& t : g.tensors_)
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      fail_input(path, ": tensor ", t.name, " (", t.bytes, " bytes at ", t.offset,
                 ") runs past the end of the file (", data_size, " bytes of data)");
  return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : meta_)
    if (k == key) return &v;
  return nullptr;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail_input(path_, ": metadata ", key, " is missing");
  if (!is_int(v->type)) fail_input(path_, ": metadata ", key, " is ", type_name(v->type));
  return v->i;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail_input(path_, ": metadata ", key, " is missing");
  if (v->type == GgufType::F32 || v->type == GgufType::F64) return v->f;
  if (is_int(v->type)) return static_cast<double>(v->i);
  fail_input(path_, ": metadata ", key, " is ", type_name(v->type), ", not a number");
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail_input(path_, ": metadata ", key, " is missing");
  if (v->type != GgufType::String)
    fail_input(path_, ": metadata ", key, " is ", type_name(v->type), ", not a string");
  return v->s;
}

const GgufTensorInfo* GgufFile::tensor_info(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Tensor GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = tensor_info(name);
  if (!t) fail_input(path_, ": has no tensor ", name);
  DType dt = DType::F32;
  ggml_to_dtype(t->type, &dt);
  std::vector<int64_t> shape(t->ne.rbegin(), t->ne.rend());
  void* p = const_cast<uint8_t*>(file_->data()) + data_start_ + t->offset;
  return Tensor::view_of(dt, shape, p, file_);
}

namespace {

class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), out_(path, std::ios::binary) {
    if (!out_) fail_input(path, ": cannot create the file");
  }
  template <typename T>
  void put(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof(T));
    pos_ += sizeof(T);
  }
  void bytes(const void* p, uint64_t n) {
    out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    pos_ += n;
  }
  void string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad(uint64_t alignment) {
    static const char zeros[64] = {};
    while (pos_ % alignment) bytes(zeros, std::min<uint64_t>(64, alignment - pos_ % alignment));
  }
  void scalar(GgufType t, int64_t i, double f) {
    switch (t) {
      case GgufType::U8:
      case GgufType::Bool:
        return put<uint8_t>(static_cast<uint8_t>(i));
      case GgufType::I8:
        return put<int8_t>(static_cast<int8_t>(i));
      case GgufType::U16:
        return put<uint16_t>(static_cast<uint16_t>(i));
      case GgufType::I16:
        return put<int16_t>(static_cast<int16_t>(i));
      case GgufType::U32:
        return put<uint32_t>(static_cast<uint32_t>(i));
      case GgufType::I32:
        return put<int32_t>(static_cast<int32_t>(i));
      case GgufType::U64:
        return put<uint64_t>(static_cast<uint64_t>(i));
      case GgufType::I64:
        return put<int64_t>(i);
      case GgufType::F32:
        return put<float>(static_cast<float>(f));
      case GgufType::F64:
        return put<double>(f);
      default:
        R1_ASSERT(false);
    }
  }
  void value(const GgufValue& v) {
    put<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type == GgufType::String) return string(v.s);
    if (v.type != GgufType::Array) return scalar(v.type, v.i, v.f);
    put<uint32_t>(static_cast<uint32_t>(v.elem));
    if (v.elem == GgufType::String) {
      put<uint64_t>(v.strings.size());
      for (const auto& s : v.strings) string(s);
    } else if (v.elem == GgufType::F32 || v.elem == GgufType::F64) {
      put<uint64_t>(v.floats.size());
      for (double f : v.floats) scalar(v.elem, 0, f);
    } else {
      put<uint64_t>(v.ints.size());
      for (int64_t i : v.ints) scalar(v.elem, i, 0);
    }
  }
  void finish() {
    out_.flush();
    if (!out_) fail_input(path_, ": write failed (disk full?)");
    out_.close();
  }

 private:
  std::string path_;
  std::ofstream out_;
  uint64_t pos_ = 0;
};

size_t spec_bytes(const GgufTensorSpec& spec) {
  Tensor shape_only;
  shape_only.dtype = spec.dtype;
  shape_only.shape = spec.shape;
  return shape_only.nbytes();
}

}  // namespace

void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<GgufTensorSpec>& specs,
                const std::function<Tensor(size_t, int64_t)>& produce, uint32_t alignment) {
  R1_ASSERT(alignment >= 8 && (alignment & (alignment - 1)) == 0);
  // general.alignment is written (first) where it is not the default, as llama.cpp does.
  std::vector<std::pair<std::string, GgufValue>> meta;
  if (alignment != kDefaultAlignment)
    meta.emplace_back("general.alignment", GgufValue::of_int(GgufType::U32, alignment));
  for (const auto& kv : metadata) {
    if (kv.first == "general.alignment") {
      R1_ASSERT(kv.second.type == GgufType::U32 && kv.second.i == alignment);
      if (alignment != kDefaultAlignment) continue;
    }
    meta.push_back(kv);
  }
  const std::string tmp = path + ".tmp";
  try {
    Writer w(tmp);
    w.put<uint32_t>(kMagic);
    w.put<uint32_t>(3);
    w.put<uint64_t>(specs.size());
    w.put<uint64_t>(meta.size());
    for (const auto& [key, v] : meta) {
      w.string(key);
      w.value(v);
    }
    uint64_t offset = 0;
    for (const auto& spec : specs) {
      GgmlType type;
      R1_ASSERT(dtype_to_ggml(spec.dtype, &type));
      w.string(spec.name);
      w.put<uint32_t>(static_cast<uint32_t>(spec.shape.size()));
      for (auto d = spec.shape.rbegin(); d != spec.shape.rend(); ++d) w.put<uint64_t>(*d);
      w.put<uint32_t>(static_cast<uint32_t>(type));
      w.put<uint64_t>(offset);
      offset = align_up(offset + spec_bytes(spec), alignment);
    }
    w.pad(alignment);
    for (size_t i = 0; i < specs.size(); ++i) {
      size_t written = 0;
      for (int64_t part = 0; part < specs[i].parts; ++part) {
        Tensor t = produce(i, part);
        R1_ASSERT(t.is_contiguous() && t.dtype == specs[i].dtype &&
                  (specs[i].parts > 1 || t.shape == specs[i].shape));
        w.bytes(t.data, t.nbytes());
        written += t.nbytes();
      }
      R1_ASSERT(written == spec_bytes(specs[i]));
      w.pad(alignment);
    }
    w.finish();
  } catch (...) {
    std::remove(tmp.c_str());  // no half-written file left behind
    throw;
  }
  fsync_path(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail_input(path, ": cannot rename ", tmp);
}

void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<std::pair<std::string, Tensor>>& tensors, uint32_t alignment) {
  std::vector<GgufTensorSpec> specs;
  for (const auto& [name, t] : tensors) specs.push_back({name, t.dtype, t.shape});
  write_gguf(
      path, metadata, specs, [&](size_t i, int64_t) { return tensors[i].second; }, alignment);
}

}  // namespace r1::io
