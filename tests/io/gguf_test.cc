// GGUF files: what write_gguf writes is read back key for key and byte for byte, the layout
// matches the format's published description (checked on the raw bytes here), and every
// truncation or corrupted count, length, type and offset is one Input error.
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/file_util.h"

namespace r1::io {
namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/r1_gguf_test_" + std::to_string(::getpid()) + "_" + name;
}

Tensor f32_tensor(std::vector<int64_t> shape, float start) {
  Tensor t = Tensor::zeros(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = start + 0.5f * static_cast<float>(i);
  return t;
}

struct Sample {
  std::vector<std::pair<std::string, GgufValue>> meta;
  std::vector<std::pair<std::string, Tensor>> tensors;
};

Tensor q8_tensor(std::vector<int64_t> shape, float start) {
  Tensor f = f32_tensor(shape, start);
  Tensor q = Tensor::zeros(DType::Q8_0, shape);
  quantize_q8_0(f.ptr<float>(), q.data, f.numel());
  return q;
}

Sample sample() {
  Sample s;
  s.meta = {{"general.architecture", GgufValue::of_string("qwen2")},
            {"qwen2.block_count", GgufValue::of_int(GgufType::U32, 2)},
            {"qwen2.rope.freq_base", GgufValue::of_float(1e6)},
            {"small", GgufValue::of_int(GgufType::I8, -3)},
            {"big", GgufValue::of_int(GgufType::U64, 1ll << 40)},
            {"flag", GgufValue::of_bool(true)},
            {"tokenizer.ggml.tokens", GgufValue::of_strings({"a", "", "\xc4\xa0the"})},
            {"tokenizer.ggml.token_type", GgufValue::of_ints(GgufType::I32, {1, 3, 1})},
            {"scores", GgufValue::of_floats({0.25, -1.5})}};
  s.tensors.emplace_back("token_embd.weight", f32_tensor({3, 4}, 1));
  s.tensors.emplace_back("output_norm.weight", f32_tensor({5}, -2));
  s.tensors.emplace_back("blk.0.attn_q.weight", q8_tensor({2, 64}, -10));
  Tensor h = Tensor::zeros(DType::BF16, {2, 3});
  for (int i = 0; i < 6; ++i) h.ptr<uint16_t>()[i] = f32_to_bf16(static_cast<float>(i) - 2.5f);
  s.tensors.emplace_back("blk.0.ffn_up.weight", h);
  return s;
}

TEST(Gguf, WrittenFileReadsBackExactly) {
  Sample s = sample();
  std::string path = temp_path("roundtrip.gguf");
  write_gguf(path, s.meta, s.tensors);
  GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.version(), 3u);
  ASSERT_EQ(g.metadata().size(), s.meta.size());
  EXPECT_EQ(g.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(g.get_int("qwen2.block_count"), 2);
  EXPECT_EQ(g.find("qwen2.block_count")->type, GgufType::U32);
  EXPECT_FLOAT_EQ(static_cast<float>(g.get_float("qwen2.rope.freq_base")), 1e6f);
  EXPECT_EQ(g.get_int("small"), -3);
  EXPECT_EQ(g.get_int("big"), 1ll << 40);
  EXPECT_EQ(g.get_int("flag"), 1);
  EXPECT_EQ(g.find("tokenizer.ggml.tokens")->strings,
            (std::vector<std::string>{"a", "", "\xc4\xa0the"}));
  EXPECT_EQ(g.find("tokenizer.ggml.token_type")->ints, (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(g.find("scores")->floats, (std::vector<double>{0.25, -1.5}));
  EXPECT_EQ(g.find("absent"), nullptr);
  EXPECT_THROW(g.get_int("general.architecture"), Error);
  ASSERT_EQ(g.tensors().size(), s.tensors.size());
  for (const auto& [name, t] : s.tensors) {
    Tensor r = g.tensor(name);
    EXPECT_EQ(r.dtype, t.dtype) << name;
    EXPECT_EQ(r.shape, t.shape) << name;
    ASSERT_EQ(r.nbytes(), t.nbytes()) << name;
    EXPECT_EQ(std::memcmp(r.data, t.data, t.nbytes()), 0) << name;
    const GgufTensorInfo* info = g.tensor_info(name);
    EXPECT_EQ(info->offset % 32, 0u);
    EXPECT_EQ(info->ne, std::vector<int64_t>(t.shape.rbegin(), t.shape.rend()));
  }
  EXPECT_EQ(g.tensor_info("blk.0.attn_q.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(g.tensor_info("blk.0.attn_q.weight")->bytes, 2u * 2 * 34);
  std::remove(path.c_str());
}

// Another alignment (r1 convert / quantize write 64) is written as general.alignment, the first
// key, once even where the metadata holds it too; every tensor and the data start on multiples
// of it, and the file reads back exactly.
TEST(Gguf, WrittenAtAnotherAlignment) {
  Sample s = sample();
  const std::string path = temp_path("aligned64.gguf");
  s.meta.emplace_back("general.alignment", GgufValue::of_int(GgufType::U32, 64));
  write_gguf(path, s.meta, s.tensors, 64);
  GgufFile g = GgufFile::open(path);
  ASSERT_EQ(g.metadata().size(), s.meta.size());
  EXPECT_EQ(g.metadata().front().first, "general.alignment");
  EXPECT_EQ(g.get_int("general.alignment"), 64);
  // The data section from the file's end (the last tensor is padded to 64 too), then each
  // tensor's bytes found there, not through the reader.
  const std::string bytes = read_file(path);
  const GgufTensorInfo& last = g.tensors().back();
  const size_t data_start = bytes.size() - last.offset - (last.bytes + 63) / 64 * 64;
  EXPECT_EQ(data_start % 64, 0u);
  for (const auto& [name, t] : s.tensors) {
    const GgufTensorInfo* info = g.tensor_info(name);
    EXPECT_EQ(info->offset % 64, 0u) << name;
    ASSERT_LE(data_start + info->offset + t.nbytes(), bytes.size()) << name;
    EXPECT_EQ(std::memcmp(bytes.data() + data_start + info->offset, t.data, t.nbytes()), 0) << name;
    Tensor r = g.tensor(name);
    ASSERT_EQ(r.nbytes(), t.nbytes()) << name;
    EXPECT_EQ(std::memcmp(r.data, t.data, t.nbytes()), 0) << name;
  }
  // At the default the key is not written, as llama.cpp writes files.
  write_gguf(path, {}, s.tensors);
  EXPECT_EQ(GgufFile::open(path).find("general.alignment"), nullptr);
  std::remove(path.c_str());
}

// A tensor written in parts (a stack of experts, one at a time) is the same file as written
// whole, and parts that do not add up to the tensor are refused.
TEST(Gguf, TensorWrittenInParts) {
  const Tensor whole = q8_tensor({3, 2, 64}, -5);
  const std::string a = temp_path("whole.gguf"), b = temp_path("parts.gguf");
  write_gguf(a, {}, {{"exps", whole}, {"norm", f32_tensor({4}, 1)}});
  const size_t part_bytes = whole.nbytes() / 3;
  std::vector<GgufTensorSpec> specs = {{"exps", DType::Q8_0, {3, 2, 64}, 3},
                                       {"norm", DType::F32, {4}}};
  write_gguf(b, {}, specs, [&](size_t i, int64_t part) {
    if (i == 1) return f32_tensor({4}, 1);
    Tensor t = Tensor::zeros(DType::Q8_0, {2, 64});
    std::memcpy(t.data, static_cast<const char*>(whole.data) + part * part_bytes, part_bytes);
    return t;
  });
  EXPECT_EQ(read_file(a), read_file(b));
  specs[0].parts = 2;  // 2 of the 3 experts' bytes
  EXPECT_THROW(
      write_gguf(b, {}, specs,
                 [&](size_t i, int64_t) {
                   return i == 1 ? f32_tensor({4}, 1) : Tensor::zeros(DType::Q8_0, {2, 64});
                 }),
      Error);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

// The bytes themselves, against the published layout: magic, version, counts, a u64-length
// string key, a u32 type and the value, then tensor infos and 32-aligned data.
TEST(Gguf, LayoutOnTheBytes) {
  std::string path = temp_path("layout.gguf");
  write_gguf(path, {{"k", GgufValue::of_int(GgufType::U32, 7)}}, {{"t", f32_tensor({1, 2}, 3)}});
  std::string b = read_file(path);
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  EXPECT_EQ(b.substr(0, 4), "GGUF");
  EXPECT_EQ(u32(4), 3u);
  EXPECT_EQ(u64(8), 1u);   // tensors
  EXPECT_EQ(u64(16), 1u);  // metadata
  EXPECT_EQ(u64(24), 1u);  // key length
  EXPECT_EQ(b[32], 'k');
  EXPECT_EQ(u32(33), 4u);  // GGUF_TYPE_UINT32
  EXPECT_EQ(u32(37), 7u);
  EXPECT_EQ(u64(41), 1u);  // tensor name length
  EXPECT_EQ(b[49], 't');
  EXPECT_EQ(u32(50), 2u);         // dims
  EXPECT_EQ(u64(54), 2u);         // ne[0]: the row length
  EXPECT_EQ(u64(62), 1u);         // ne[1]
  EXPECT_EQ(u32(70), 0u);         // GGML_TYPE_F32
  EXPECT_EQ(u64(74), 0u);         // offset
  ASSERT_EQ(b.size(), 96u + 32);  // header 82 bytes padded to 96, data 8 padded to 32
  float x;
  std::memcpy(&x, b.data() + 96, 4);
  EXPECT_EQ(x, 3.0f);
  std::remove(path.c_str());
}

// A file written by hand from the published layout (tools/reference/make_gguf_seed.py, Python,
// no r1 code), read by r1.
TEST(Gguf, ReadsAFileWrittenIndependently) {
  GgufFile g =
      GgufFile::open(std::string(R1_SOURCE_DIR) + "/tests/fuzz/corpus/gguf/seed_small.gguf");
  EXPECT_EQ(g.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(g.get_int("qwen2.block_count"), 1);
  EXPECT_EQ(g.find("tokenizer.ggml.tokens")->strings, (std::vector<std::string>{"a", "b"}));
  Tensor t = g.tensor("t");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t.ptr<float>()[0], 1.0f);
  EXPECT_EQ(t.ptr<float>()[1], 2.0f);
  Tensor q = g.tensor("q");
  EXPECT_EQ(q.dtype, DType::Q8_0);
  std::vector<float> x(32);
  dequantize_q8_0(q.data, x.data(), 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], 0.5f * static_cast<float>(i));
}

void expect_input_error(const std::string& bytes, const std::string& needle) {
  std::string path = temp_path("bad.gguf");
  write_file_atomic(path, bytes);
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "no error for a file expected to fail with \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Gguf, EveryTruncationIsAnInputError) {
  Sample s = sample();
  std::string path = temp_path("full.gguf");
  write_gguf(path, s.meta, s.tensors);
  std::string full = read_file(path);
  // the file may end anywhere after the last tensor's bytes (its padding is not needed)
  const auto& last = GgufFile::open(path).tensors().back();
  size_t needed = full.size() - 32 + last.bytes;
  ASSERT_EQ(last.bytes, 12u);
  std::remove(path.c_str());
  for (size_t n = 0; n < needed; n += (n < 400 ? 1 : 37)) {
    std::string cut = full.substr(0, n);
    std::string p = temp_path("cut.gguf");
    write_file_atomic(p, cut);
    EXPECT_THROW(GgufFile::open(p), Error) << "cut at " << n;
    std::remove(p.c_str());
  }
}

TEST(Gguf, CorruptedFieldsAreInputErrors) {
  Sample s = sample();
  std::string path = temp_path("base.gguf");
  write_gguf(path, {{"k", GgufValue::of_strings({"ab"})}}, {{"t", f32_tensor({1, 2}, 3)}});
  const std::string base = read_file(path);
  std::remove(path.c_str());
  auto patch = [&](size_t at, uint64_t v, size_t width) {
    std::string b = base;
    std::memcpy(&b[at], &v, width);
    return b;
  };
  // layout of base: 24 header, key "k" at 24..33, type 9 at 33, elem 8 at 37, count at 41,
  // string length at 49, "ab" at 57; tensor name length at 59, "t", dims at 68, ne at 72 and 80,
  // type at 88, offset at 92
  expect_input_error(patch(0, 0x46554746, 4), "not a GGUF file");
  expect_input_error(patch(4, 1, 4), "version 1");
  expect_input_error(patch(8, 1ull << 40, 8), "not a model file");
  expect_input_error(patch(24, 1ull << 62, 8), "truncated");
  expect_input_error(patch(33, 77, 4), "unknown value type");
  expect_input_error(patch(37, 9, 4), "arrays of arrays");
  expect_input_error(patch(41, 1ull << 60, 8), "do not fit");
  expect_input_error(patch(49, 1ull << 50, 8), "truncated");
  expect_input_error(patch(68, 9, 4), "dimensions");
  expect_input_error(patch(72, 0, 8), "dimension of 0");
  expect_input_error(patch(80, 1ull << 39, 8), "runs past the end");
  expect_input_error(patch(88, 12, 4), "Q4_K");
  expect_input_error(patch(92, 8, 8), "not aligned");
  expect_input_error(patch(92, 1ull << 40, 8), "runs past the end");
  // a Q8_0 row must be whole blocks
  std::string p = temp_path("q8.gguf");
  write_gguf(p, {}, {{"q", q8_tensor({1, 32}, 0)}});
  std::string q8 = read_file(p);
  std::remove(p.c_str());
  uint64_t ne0 = 31;
  std::memcpy(&q8[24 + 8 + 1 + 4], &ne0, 8);
  expect_input_error(q8, "whole Q8_0 blocks");
}

}  // namespace
}  // namespace r1::io
