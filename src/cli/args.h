// Command-line flags for r1 subcommands: "--name value", "--name=value" and boolean "--name".
// Every flag a command reads must be declared through take_*(); unknown flags are a Usage error
// naming the flag, so a typo never silently falls back to a default. Numbers are validated here,
// once for every command: a number flag states its range, and a value that is not a number, not
// finite (nan, inf) or outside the range is a Usage error that names the flag and the range. The
// default is returned as given when the flag is absent (a default may be a sentinel outside the
// range, such as 0 for "not set").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace r1::cli {

// Bounds shared by several commands' flags. Sizes within them can still be more than the
// machine's memory; that is checked where the memory is reserved (core/memory.h).
constexpr int64_t kMaxI64 = INT64_MAX;
constexpr int64_t kMaxTokens = int64_t{1} << 24;  // a context, prompt or generation length
constexpr int64_t kMaxBatch = 4096;               // sequences decoded together
constexpr int64_t kMaxVocab = int64_t{1} << 24;

// An interval of the reals, each end closed or open: Range::closed(0, 1) is [0, 1],
// Range::above(0, 10) is (0, 10], Range::below(0, 1) is [0, 1).
struct Range {
  double lo, hi;
  bool lo_open = false, hi_open = false;
  static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Range above(double lo, double hi) { return {lo, hi, true, false}; }
  static Range below(double lo, double hi) { return {lo, hi, false, true}; }
  bool contains(double x) const;
  std::string str() const;  // "(0, 10]"
};

class Args {
 public:
  // argv holds the words after the subcommand name. bool_flags lists the flags that take no value.
  Args(std::vector<std::string> argv, std::vector<std::string> bool_flags);

  std::optional<std::string> take(const std::string& name, const std::string& alias = "");
  std::string take_str(const std::string& name, const std::string& def,
                       const std::string& alias = "");
  int64_t take_int(const std::string& name, int64_t def, int64_t lo, int64_t hi,
                   const std::string& alias = "");
  double take_double(const std::string& name, double def, const Range& range,
                     const std::string& alias = "");
  bool take_bool(const std::string& name, const std::string& alias = "");
  // A positive size in bytes, as core/memory.h's parse_bytes reads it: "4096", "512M", "1.5G".
  uint64_t take_bytes(const std::string& name, uint64_t def);
  // Positional words (not starting with '-') in order.
  std::vector<std::string> take_positional();
  // Fails with a Usage error if any flag was given but never taken.
  void finish() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> taken_;
  std::vector<std::string> positional_;
  std::string last_name_;  // the spelling the user gave of the flag last taken, for errors
};

}  // namespace r1::cli
