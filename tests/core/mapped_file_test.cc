// MappedFile: the same bytes whether mapped or read, empty files, and errors that name the path.
#include "core/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

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

// Whole pages inside a live file's bytes are given back: a mapped file's read again from the file,
// a read file's as zeros; ranges outside any file and partial pages are left alone.
TEST(MappedFile, DiscardGivesBackWholePagesOfLiveFiles) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::string content(8 * page, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(1 + i % 200);
  const std::string path = temp_file("discard", content);
  auto mapped = MappedFile::open(path, LoadMode::Map);
  auto read = MappedFile::open(path, LoadMode::Read);
  // [page / 2, 3.5 pages): the whole pages 1 and 2.
  EXPECT_EQ(discard_file_pages(mapped->data() + page / 2, 3 * page), 2 * page);
  EXPECT_EQ(std::memcmp(mapped->data(), content.data(), content.size()), 0);
  EXPECT_EQ(discard_file_pages(read->data() + page / 2, 3 * page), 2 * page);
  EXPECT_EQ(read->data()[page - 1], static_cast<uint8_t>(content[page - 1]));  // kept
  EXPECT_EQ(read->data()[page], 0);                                            // given back
  EXPECT_EQ(read->data()[3 * page - 1], 0);
  EXPECT_EQ(read->data()[3 * page], static_cast<uint8_t>(content[3 * page]));
  std::vector<uint8_t> heap(4 * page, 7);
  EXPECT_EQ(discard_file_pages(heap.data(), heap.size()), 0u);  // not a file's
  EXPECT_EQ(heap[2 * page], 7);
  EXPECT_EQ(discard_file_pages(read->data() + 1, page), 0u);  // no whole page inside
  const uint8_t* gone = read->data();
  read.reset();
  EXPECT_EQ(discard_file_pages(gone, page), 0u);  // the file is closed
  fs::remove(path);
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
