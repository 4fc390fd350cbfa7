#include "cli/model_dir.h"

#include "io/gguf_import.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "core/error.h"

#ifndef R1_MODELS_DIR
#define R1_MODELS_DIR ""
#endif
#ifndef R1_DATA_DIR
#define R1_DATA_DIR ""
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

// Where a bundled NAME of a folder FOLDER (models, data) may be: the source tree, or beside or
// above the executable (an installed copy).
std::vector<std::string> bundled_candidates(const std::string& source_dir,
                                            const std::string& folder, const std::string& name) {
  std::vector<std::string> out;
  if (name.empty() || name.find('/') != std::string::npos) return out;
  for (const std::string& root :
       {source_dir, exe_dir() + "/" + folder, exe_dir() + "/../" + folder})
    if (!root.empty()) out.push_back(root + "/" + name);
  return out;
}
}  // namespace

std::string resolve_model_dir(const std::optional<std::string>& m) {
  std::string name = m ? *m : kDefaultModel;
  if (name.empty()) fail_usage("-m needs a model folder or a bundled model name");
  if (is_dir(name)) return name;
  struct stat st;
  if (name.size() > 5 && name.substr(name.size() - 5) == ".gguf" && stat(name.c_str(), &st) == 0 &&
      S_ISREG(st.st_mode))
    return io::prepare_gguf_folder(name);  // config and tokenizer from its metadata, cached
  for (const auto& c : bundled_candidates(R1_MODELS_DIR, "models", name))
    if (is_dir(c)) return c;
  fail_usage("model '", name, "' is neither a folder nor a bundled model (looked in ",
             R1_MODELS_DIR, ")");
}

const std::vector<BundledData>& bundled_data() {
  static const std::vector<BundledData> sets = {{"math500", "math500.jsonl", "math"},
                                                {"aime24", "aime24.jsonl", "aime"},
                                                {"amc23", "amc23.jsonl", "aime"},
                                                {"gsm8k", "gsm8k_test.jsonl", "gsm8k"}};
  return sets;
}

std::optional<BundledData> resolve_bundled_data(const std::string& name) {
  struct stat st;
  if (stat(name.c_str(), &st) == 0) return std::nullopt;  // a file of that name wins
  for (BundledData d : bundled_data()) {
    if (name != d.name) continue;
    for (const auto& c : bundled_candidates(R1_DATA_DIR, "data", d.file))
      if (stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        d.file = c;
        return d;
      }
    fail_input("bundled data set '", name, "' is missing from this installation (looked in ",
               R1_DATA_DIR, ")");
  }
  return std::nullopt;
}

}  // namespace r1::cli
