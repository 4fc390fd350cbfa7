// MappedFile: the same bytes whether mapped or read, empty files, and errors that name the path.
#include "core/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

std::string temp_file(const std::string& name, const std::string& content) {
  const fs::path p = fs::temp_directory_path() / ("r1_mapped_" + std::to_string(getpid()) + name);
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

TEST(MappedFile, MappedAndReadGiveTheSameBytes) {
  std::string content(100000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
  const std::string path = temp_file("data", content);
  for (LoadMode mode : {LoadMode::Map, LoadMode::Read, LoadMode::Auto}) {
    auto f = MappedFile::open(path, mode);
    ASSERT_EQ(f->size(), content.size());
    EXPECT_EQ(std::memcmp(f->data(), content.data(), content.size()), 0);
    EXPECT_EQ(f->path(), path);
  }
  // The mapping outlives the file's name.
  auto f = MappedFile::open(path, LoadMode::Map);
  fs::remove(path);
  EXPECT_EQ(f->data()[99999], static_cast<uint8_t>(content[99999]));
}

// Auto reads a file that fits in half the available memory and maps one that does not.
TEST(MappedFile, AutoReadsWhatFitsAndMapsTheRest) {
  const std::string path = temp_file("auto", std::string(100000, 'x'));
  EXPECT_FALSE(MappedFile::open(path, LoadMode::Auto)->mapped());
  EXPECT_TRUE(MappedFile::open(path, LoadMode::Map)->mapped());
  EXPECT_FALSE(MappedFile::open(path, LoadMode::Read)->mapped());
  setenv("R1_MEMORY_LIMIT", "150000", 1);
  auto f = MappedFile::open(path, LoadMode::Auto);
  unsetenv("R1_MEMORY_LIMIT");
  EXPECT_TRUE(f->mapped());
  EXPECT_EQ(f->data()[99999], 'x');
  fs::remove(path);
}

TEST(MappedFile, EmptyFile) {
  const std::string path = temp_file("empty", "");
  for (LoadMode mode : {LoadMode::Map, LoadMode::Read})
    EXPECT_EQ(MappedFile::open(path, mode)->size(), 0u);
  fs::remove(path);
}

TEST(MappedFile, MissingFileOrFolderIsAnInputError) {
  for (const std::string& path :
       {std::string("/nonexistent/file.bin"), fs::temp_directory_path().string()}) {
    try {
      MappedFile::open(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace r1
