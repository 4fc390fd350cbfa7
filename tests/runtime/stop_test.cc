#include <gtest/gtest.h>

#include "runtime/request.h"

namespace r1::runtime {
namespace {

TEST(StopStrings, HoldbackIsLongestSuffixThatCouldStartAStop) {
  EXPECT_EQ(stop_holdback("hello wor", {"world"}), 3u);
  EXPECT_EQ(stop_holdback("hello", {"world"}), 0u);
  EXPECT_EQ(stop_holdback("abc</", {"</think>", "<|x|>"}), 2u);
  EXPECT_EQ(stop_holdback("", {"x"}), 0u);
  EXPECT_EQ(stop_holdback("aaa", {"aaaa"}), 3u);
  EXPECT_EQ(stop_holdback("xy", {}), 0u);
}

}  // namespace
}  // namespace r1::runtime
