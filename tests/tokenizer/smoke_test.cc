#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

TEST(TokenizerSmoke, LoadsR1) {
  auto t = r1::tok::Tokenizer::load(std::string(R1_SHARED_DIR) + "/tokenizers/r1");
  const auto ids = t.encode("Hello world <｜User｜>hi<think>\n 12345 你好");
  EXPECT_EQ(ids, (std::vector<int32_t>{19923, 2058, 223, 128803, 6366, 128798, 201, 223, 6895, 1883,
                                       223, 30594}));
}
