// Tensor: shapes, strides, zero-filled aligned storage, views sharing their owner, and the memory
// check made before an allocation (core/memory.h).
#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "core/memory.h"

namespace r1 {
namespace {

TEST(Tensor, ZerosIsContiguousAlignedAndZero) {
  Tensor t = Tensor::zeros(DType::F32, {3, 5, 7});
  EXPECT_EQ(t.ndim(), 3);
  EXPECT_EQ(t.numel(), 105);
  EXPECT_EQ(t.nbytes(), 420u);
  EXPECT_EQ(t.strides, (std::vector<int64_t>{35, 7, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u);
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.ptr<float>()[i], 0.0f);
  EXPECT_EQ(t.dim(-1), 7);
  EXPECT_EQ(t.shape_str(), "[3, 5, 7]");
  Tensor b = Tensor::zeros(DType::BF16, {4, 6});
  EXPECT_EQ(b.nbytes(), 48u);
  EXPECT_EQ(static_cast<char*>(b.row(2)) - static_cast<char*>(b.data), 2 * 6 * 2);
  Tensor empty = Tensor::zeros(DType::F32, {0, 16});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.defined());
}

// Large buffers are reused after they are freed: a reused buffer given out by zeros() is zero
// again, and empty() has the shape and alignment of zeros().
TEST(Tensor, ReusedBuffersAreZeroedByZeros) {
  const std::vector<int64_t> shape = {1000, 700};  // 2.8 MB: pooled
  const void* first = nullptr;
  {
    Tensor a = Tensor::empty(DType::F32, shape);
    EXPECT_EQ(a.shape, shape);
    EXPECT_TRUE(a.is_contiguous());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 64, 0u);
    for (int64_t i = 0; i < a.numel(); ++i) a.ptr<float>()[i] = 1.5f;
    first = a.data;
  }
  Tensor b = Tensor::zeros(DType::F32, shape);
  EXPECT_EQ(b.data, first);  // the same buffer, back from the pool
  for (int64_t i = 0; i < b.numel(); ++i) ASSERT_EQ(b.ptr<float>()[i], 0.0f) << i;
  Tensor c = Tensor::zeros(DType::F32, shape);  // b still holds it: another buffer
  EXPECT_NE(c.data, b.data);
}

TEST(Tensor, ViewsShareTheirOwner) {
  Tensor t = Tensor::zeros(DType::F32, {4, 4});
  std::weak_ptr<void> alive = t.owner;
  {
    Tensor v = Tensor::view_of(DType::F32, {2, 4}, t.row(2), t.owner);
    v.ptr<float>()[1] = 5.0f;
    t = Tensor();  // the view keeps the storage alive
    EXPECT_FALSE(alive.expired());
    EXPECT_EQ(v.ptr<float>()[1], 5.0f);
  }
  EXPECT_TRUE(alive.expired());
  Tensor strided = Tensor::zeros(DType::F32, {4, 4});
  strided.strides = {8, 1};
  EXPECT_FALSE(strided.is_contiguous());
}

TEST(Tensor, AllocationBeyondMemoryIsAnInputError) {
  // Overflowing shapes and sizes past the machine are refused before anything is allocated.
  for (std::vector<int64_t> shape : {std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40},
                                     std::vector<int64_t>{int64_t{1} << 62, 8}}) {
    try {
      Tensor::zeros(DType::F32, shape);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find("a tensor of shape"), std::string::npos) << e.what();
    }
  }
  // Strides past int64 are an input error, also when a zero dimension makes the tensor empty.
  EXPECT_THROW(Tensor::zeros(DType::F32, {0, int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(contiguous_strides({int64_t{1} << 40, int64_t{1} << 40, 2}), Error);
  EXPECT_EQ(contiguous_strides({0, 3, 2}), (std::vector<int64_t>{6, 2, 1}));
  setenv("R1_MEMORY_LIMIT", "1M", 1);
  EXPECT_EQ(memory_limit_bytes(), 1u << 20);
  EXPECT_THROW(Tensor::zeros(DType::F32, {1024, 1024}), Error);  // 4 MiB
  EXPECT_NO_THROW(Tensor::zeros(DType::F32, {256, 256}));        // 256 KiB
  unsetenv("R1_MEMORY_LIMIT");
  EXPECT_GT(memory_limit_bytes(), 1u << 20);
  EXPECT_EQ(mul_sat(uint64_t{1} << 40, uint64_t{1} << 40), UINT64_MAX);
  EXPECT_EQ(add_sat(UINT64_MAX, 1), UINT64_MAX);
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3ull << 30), "3.0 GiB");
}

}  // namespace
}  // namespace r1
