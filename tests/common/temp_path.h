// Temporary folders and files for tests, under the system's temp directory, removed when the test
// program exits (ctest runs each test as a process of its own), so that repeated runs leave
// nothing behind.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace r1::testing {

// The paths to remove at exit.
inline std::vector<std::string>& paths_removed_at_exit() {
  static struct Paths {
    std::vector<std::string> paths;
    ~Paths() {
      for (const std::string& p : paths) {
        std::error_code ec;  // what cannot be removed stays: a test's exit must not throw
        std::filesystem::remove_all(p, ec);
      }
    }
  } removed;
  return removed.paths;
}

// A new folder named `prefix` and 6 random characters (mkdtemp), removed at exit.
inline std::string fresh_temp_dir(const std::string& prefix) {
  std::string name = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + name);
  paths_removed_at_exit().push_back(name);
  return name;
}

// `path`, to be removed at exit.
inline std::string removed_at_exit(const std::string& path) {
  paths_removed_at_exit().push_back(path);
  return path;
}

}  // namespace r1::testing
