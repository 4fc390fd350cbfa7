// Finding a model folder from -m: a path to a folder, or the name of a bundled model (a folder
// under models/ of the r1 source tree, or models/ beside or above the r1 executable); and the
// bundled evaluation sets (data/) by short name.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace r1::cli {

constexpr const char* kDefaultModel = "r1-arith";

// Returns a folder that exists (for a .gguf file, the cache folder standing for it:
// io/gguf_import.h); Usage error listing where it looked otherwise.
std::string resolve_model_dir(const std::optional<std::string>& m);

struct BundledData {
  std::string name;  // what --data accepts: math500, aime24, amc23, gsm8k
  std::string file;  // its file under data/ (a full path once resolved)
  std::string task;  // the task it is graded as
};
const std::vector<BundledData>& bundled_data();
// The bundled set NAME names, unless a file of that name exists; nullopt when NAME is no set.
std::optional<BundledData> resolve_bundled_data(const std::string& name);

}  // namespace r1::cli
