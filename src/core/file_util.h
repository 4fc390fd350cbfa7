// Small file helpers shared by the layers: whole-file reads with clear errors, atomic writes.
#pragma once

#include <string>

namespace r1 {

// Reads a whole file; a missing or unreadable file is an Input error naming the path.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
// Joins a folder and a file name with exactly one '/'.
std::string path_join(const std::string& dir, const std::string& name);
// Writes to path.tmp then renames over path, so readers never see a half-written file.
void write_file_atomic(const std::string& path, const std::string& data);
// Flushes a file's (or a folder's) data to the device; an Input error naming it on failure.
void fsync_path(const std::string& path);

}  // namespace r1
