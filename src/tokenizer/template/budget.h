// The bounds of one render. A chat template is untrusted input: it comes with a downloaded model
// folder, and a server renders it for every request. So a render is bounded in work and in memory
// whatever the template does: every statement and expression evaluated costs a step, and every
// byte of text and every list slot the interpreter builds is charged to a byte budget before it
// is built (the budget counts bytes built in all, an upper bound of what is alive at once). Going
// over either is an Input error naming the limit; a render never hangs or takes the machine's
// memory. Outside a render (values built for its arguments, tests of the builtins) nothing is
// counted.
#pragma once

#include <cstdint>

namespace r1::tmpl {

struct RenderLimits {
  // The real chat templates take about 65 steps and build about 7 bytes per byte of a
  // conversation (a 1,000-turn conversation of 1 MB: 66K steps, 7 MB; tests/template/
  // budget_test.cc). These limits leave 18x that and stop the worst template within about a
  // second on one core.
  uint64_t max_steps = 5'000'000;
  uint64_t max_bytes = uint64_t{1} << 27;
};

namespace budget {

// Charges this thread's render, if one is running; an Input error once a limit is passed.
void step();
void bytes(uint64_t n);
// For builders, before they grow a result to n bytes (or count * unit, the product checked for
// overflow): an Input error if that would pass the limit; charges nothing (the finished value is
// charged when it is made).
void room(uint64_t n);
void room(uint64_t count, uint64_t unit);

// Makes a render's budget the current one for the thread for its lifetime (renders do not nest;
// a nested scope keeps the outer budget).
class Scope {
 public:
  explicit Scope(const RenderLimits& limits);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  friend void step();
  friend void bytes(uint64_t n);
  friend void room(uint64_t n);
  RenderLimits limits_;
  uint64_t steps_ = 0, bytes_ = 0;
  bool owner_ = false;
};

}  // namespace budget
}  // namespace r1::tmpl
