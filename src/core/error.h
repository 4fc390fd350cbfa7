// Errors with context. Every failure the user can cause (bad file, bad flag, bad field) is an
// r1::Error of kind Input or Usage and ends the CLI with exit code 2 and one line on stderr;
// anything else is Internal (exit code 1).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace r1 {

enum class ErrorKind { Usage, Input, Internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Concatenates anything streamable: cat("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <typename... Args>
[[noreturn]] void fail_input(Args&&... args) {
  throw Error(ErrorKind::Input, cat(std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void fail_usage(Args&&... args) {
  throw Error(ErrorKind::Usage, cat(std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void fail_internal(Args&&... args) {
  throw Error(ErrorKind::Internal, cat(std::forward<Args>(args)...));
}

}  // namespace r1

// Checks an invariant of r1 itself (not of user input); failure is an internal error.
#define R1_ASSERT(cond)                                                                       \
  do {                                                                                        \
    if (!(cond)) ::r1::fail_internal(__FILE__, ":", __LINE__, ": assertion failed: ", #cond); \
  } while (0)
