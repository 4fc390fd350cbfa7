#include "cli/args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/memory.h"

namespace r1::cli {

Args::Args(std::vector<std::string> argv, std::vector<std::string> bool_flags) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    bool is_bool = std::find(bool_flags.begin(), bool_flags.end(), name) != bool_flags.end();
    if (!has_value) {
      if (is_bool) {
        value = "1";
      } else {
        if (i + 1 >= argv.size()) fail_usage("flag ", name, " needs a value");
        value = argv[++i];
      }
    }
    if (values_.count(name)) fail_usage("flag ", name, " given twice");
    values_[name] = value;
    taken_[name] = false;
  }
}

std::optional<std::string> Args::take(const std::string& name, const std::string& alias) {
  for (const std::string& n : {name, alias}) {
    if (n.empty()) continue;
    auto it = values_.find(n);
    if (it != values_.end()) {
      taken_[n] = true;
      last_name_ = n;
      return it->second;
    }
  }
  return std::nullopt;
}

std::string Args::take_str(const std::string& name, const std::string& def,
                           const std::string& alias) {
  auto v = take(name, alias);
  return v ? *v : def;
}

bool Range::contains(double x) const {
  return std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
}

std::string Range::str() const {
  return cat(lo_open ? "(" : "[", lo, ", ", hi, hi_open ? ")" : "]");
}

int64_t Args::take_int(const std::string& name, int64_t def, int64_t lo, int64_t hi,
                       const std::string& alias) {
  auto v = take(name, alias);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  const bool number =
      !v->empty() && *end == '\0' && !std::isspace(static_cast<unsigned char>((*v)[0]));
  if (!number || errno != 0 || x < lo || x > hi)
    fail_usage("flag ", last_name_, " must be an integer in [", lo, ", ", hi, "], got '", *v, "'");
  return x;
}

double Args::take_double(const std::string& name, double def, const Range& range,
                         const std::string& alias) {
  auto v = take(name, alias);
  if (!v) return def;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  const bool number =
      !v->empty() && *end == '\0' && !std::isspace(static_cast<unsigned char>((*v)[0]));
  if (!number || !range.contains(x))
    fail_usage("flag ", last_name_, " must be a number in ", range.str(), ", got '", *v, "'");
  return x;
}

uint64_t Args::take_bytes(const std::string& name, uint64_t def) {
  auto v = take(name);
  if (!v) return def;
  uint64_t bytes = 0;
  if (!parse_bytes(*v, &bytes))
    fail_usage("flag ", last_name_, " must be a size such as 512M or 4G (K, M, G, T: powers of ",
               "1024), got '", *v, "'");
  return bytes;
}

bool Args::take_bool(const std::string& name, const std::string& alias) {
  auto v = take(name, alias);
  if (!v) return false;
  if (*v == "1" || *v == "true") return true;
  if (*v == "0" || *v == "false") return false;
  fail_usage("flag ", last_name_, " expects true or false, got '", *v, "'");
}

std::vector<std::string> Args::take_positional() {
  auto p = positional_;
  positional_.clear();
  return p;
}

void Args::finish() const {
  for (const auto& [name, taken] : taken_)
    if (!taken) fail_usage("unknown flag ", name, " (see r1 help)");
  if (!positional_.empty()) fail_usage("unexpected argument '", positional_.front(), "'");
}

}  // namespace r1::cli
