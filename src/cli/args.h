// Command-line flags for r1 subcommands: "--name value", "--name=value" and boolean "--name".
// Every flag a command reads must be declared through take_*(); unknown flags are a Usage error
// naming the flag, so a typo never silently falls back to a default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace r1::cli {

class Args {
 public:
  // argv holds the words after the subcommand name. bool_flags lists the flags that take no value.
  Args(std::vector<std::string> argv, std::vector<std::string> bool_flags);

  std::optional<std::string> take(const std::string& name, const std::string& alias = "");
  std::string take_str(const std::string& name, const std::string& def,
                       const std::string& alias = "");
  int64_t take_int(const std::string& name, int64_t def, const std::string& alias = "");
  double take_double(const std::string& name, double def, const std::string& alias = "");
  bool take_bool(const std::string& name, const std::string& alias = "");
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
