#include "cli/model_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "core/error.h"

#ifndef R1_MODELS_DIR
#define R1_MODELS_DIR ""
#endif

namespace r1::cli {

namespace {
bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
std::string exe_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}
}  // namespace

std::string resolve_model_dir(const std::optional<std::string>& m) {
  std::string name = m ? *m : kDefaultModel;
  if (name.empty()) fail_usage("-m needs a model folder or a bundled model name");
  if (is_dir(name)) return name;
  std::vector<std::string> roots = {R1_MODELS_DIR, exe_dir() + "/models", exe_dir() + "/../models"};
  if (name.find('/') == std::string::npos)
    for (const auto& r : roots)
      if (!r.empty() && is_dir(r + "/" + name)) return r + "/" + name;
  fail_usage("model '", name, "' is neither a folder nor a bundled model (looked in ",
             R1_MODELS_DIR, ")");
}

}  // namespace r1::cli
