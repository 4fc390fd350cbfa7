// Assertions on the GGUF files the CLI writes.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

#include "io/gguf.h"

namespace r1::testing {

// Each named tensor of `g` is present and stored as the given type.
inline void expect_tensor_types(const io::GgufFile& g,
                                std::initializer_list<std::pair<const char*, io::GgmlType>> want) {
  for (const auto& [name, type] : want) {
    const auto* info = g.tensor_info(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->type, type) << name;
  }
}

}  // namespace r1::testing
