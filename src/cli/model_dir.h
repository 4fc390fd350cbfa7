// Finding a model folder from -m: a path to a folder, or the name of a bundled model (a folder
// under models/ of the r1 source tree, or models/ beside or above the r1 executable).
#pragma once

#include <optional>
#include <string>

namespace r1::cli {

constexpr const char* kDefaultModel = "r1-arith";

// Returns a folder that exists; Usage error listing where it looked otherwise.
std::string resolve_model_dir(const std::optional<std::string>& m);

}  // namespace r1::cli
