// Safetensors reading: round trip through the writer, sharded folders, and every kind of
// malformed file giving an Input error that names the file and the problem.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/file_util.h"

namespace r1::io {
namespace {

namespace fs = std::filesystem;

// A new folder for one test, removed when the test program exits.
std::string temp_dir(const std::string& name) {
  return r1::testing::fresh_temp_dir("r1_io_test_" + name + "_");
}

Tensor make_f32(std::vector<int64_t> shape, float start) {
  Tensor t = Tensor::zeros(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = start + i;
  return t;
}

void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header + std::string(data_bytes, '\0');
  std::ofstream(path, std::ios::binary) << out;
}

// Expects an Input error whose message contains every fragment.
template <typename F>
void expect_input_error(F f, std::vector<std::string> fragments) {
  try {
    f();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
    for (const auto& s : fragments)
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " lacks " << s;
  }
}

TEST(Safetensors, RoundTrip) {
  std::string dir = temp_dir("roundtrip");
  std::string path = path_join(dir, "model.safetensors");
  Tensor a = make_f32({2, 3}, 1), b = Tensor::zeros(DType::BF16, {5});
  for (int i = 0; i < 5; ++i) b.ptr<uint16_t>()[i] = f32_to_bf16(0.5f * i);
  write_safetensors(path, {{"a", a}, {"b", b}}, {{"format", "pt"}});
  for (LoadMode mode : {LoadMode::Map, LoadMode::Read}) {
    WeightStore s = WeightStore::open_dir(dir, mode);
    ASSERT_TRUE(s.has("a") && s.has("b"));
    Tensor ra = s.get("a"), rb = s.get("b");
    EXPECT_EQ(ra.shape, a.shape);
    EXPECT_EQ(rb.dtype, DType::BF16);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(ra.ptr<float>()[i], 1.0f + i);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(bf16_to_f32(rb.ptr<uint16_t>()[i]), 0.5f * i);
    expect_input_error([&] { s.get("missing"); }, {"missing"});
  }
}

TEST(Safetensors, Sharded) {
  std::string dir = temp_dir("sharded");
  write_safetensors(path_join(dir, "s1.safetensors"), {{"x", make_f32({4}, 0)}});
  write_safetensors(path_join(dir, "s2.safetensors"), {{"y", make_f32({2, 2}, 10)}});
  std::ofstream(path_join(dir, "model.safetensors.index.json"))
      << R"({"metadata": {}, "weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})";
  WeightStore s = WeightStore::open_dir(dir);
  EXPECT_EQ(s.get("y").ptr<float>()[3], 13.0f);
  EXPECT_EQ(s.file_of("x"), path_join(dir, "s1.safetensors"));

  std::ofstream(path_join(dir, "model.safetensors.index.json"))
      << R"({"weight_map": {"x": "s1.safetensors", "z": "s2.safetensors"}})";
  expect_input_error([&] { WeightStore::open_dir(dir); }, {"index.json", "z", "s2.safetensors"});
  std::ofstream(path_join(dir, "model.safetensors.index.json"))
      << R"({"weight_map": {"x": "s3.safetensors"}})";
  expect_input_error([&] { WeightStore::open_dir(dir); }, {"s3.safetensors"});
  std::ofstream(path_join(dir, "model.safetensors.index.json"))
      << R"({"weight_map": {"x": "../etc/passwd"}})";
  expect_input_error([&] { WeightStore::open_dir(dir); }, {"bad file"});
  std::ofstream(path_join(dir, "model.safetensors.index.json")) << "{not json";
  expect_input_error([&] { WeightStore::open_dir(dir); }, {"index.json", "JSON"});
}

TEST(Safetensors, MissingFolderContents) {
  std::string dir = temp_dir("empty");
  expect_input_error([&] { WeightStore::open_dir(dir); }, {"no model.safetensors"});
  expect_input_error([&] { WeightStore::open_file(path_join(dir, "nope.safetensors")); },
                     {"nope.safetensors"});
}

TEST(Safetensors, MalformedFiles) {
  std::string dir = temp_dir("bad");
  std::string p = path_join(dir, "m.safetensors");
  std::ofstream(p, std::ios::binary) << "abc";
  expect_input_error([&] { WeightStore::open_file(p); }, {p, "truncated"});

  write_raw(p, "{}", 0);
  EXPECT_NO_THROW(WeightStore::open_file(p));  // an empty checkpoint is well formed

  {  // header length larger than the file
    std::string out(8, '\0');
    out[0] = 100;
    out += "{}";
    std::ofstream(p, std::ios::binary) << out;
  }
  expect_input_error([&] { WeightStore::open_file(p); }, {"header length"});

  write_raw(p, "{\"a\": ", 0);
  expect_input_error([&] { WeightStore::open_file(p); }, {"not valid JSON"});
  write_raw(p, R"({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}})", 1);
  expect_input_error([&] { WeightStore::open_file(p); }, {"tensor a", "unsupported dtype Q4"});
  write_raw(p, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4);
  expect_input_error([&] { WeightStore::open_file(p); }, {"tensor a", "outside the data"});
  write_raw(p, R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8);
  expect_input_error([&] { WeightStore::open_file(p); }, {"tensor a", "needs 12"});
  write_raw(p, R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4);
  expect_input_error([&] { WeightStore::open_file(p); }, {"bad shape"});
  write_raw(p, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8);
  expect_input_error([&] { WeightStore::open_file(p); }, {"outside"});
  write_raw(p,
            R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
            4);
  expect_input_error([&] { WeightStore::open_file(p); }, {"too large"});
  // Empty, but its strides would pass int64 (found by ASan/UBSan in Tensor's strides).
  write_raw(
      p, R"({"a": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}})",
      0);
  expect_input_error([&] { WeightStore::open_file(p); }, {"too large"});
  write_raw(p,
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            12);
  expect_input_error([&] { WeightStore::open_file(p); }, {"overlap"});
  write_raw(p, R"({"a": {"dtype": "F32", "shape": [1]}})", 4);
  expect_input_error([&] { WeightStore::open_file(p); }, {"data_offsets"});
  write_raw(p, "[1, 2]", 0);
  expect_input_error([&] { WeightStore::open_file(p); }, {"not a JSON object"});
}

TEST(Safetensors, TruncatedRealCheckpoint) {
  std::string src =
      std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/qwen2-f32/model.safetensors";
  std::string data = read_file(src);
  std::string dir = temp_dir("trunc");
  std::string p = path_join(dir, "model.safetensors");
  std::ofstream(p, std::ios::binary) << data.substr(0, data.size() - 100);
  expect_input_error([&] { WeightStore::open_file(p); }, {p, "outside the data section"});
}

}  // namespace
}  // namespace r1::io
