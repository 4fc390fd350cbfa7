// A Jinja2 interpreter for the subset Hugging Face chat templates use, rendering byte-for-byte as
// Python's jinja2 3.x does with HF's settings (ImmutableSandboxedEnvironment, trim_blocks=True,
// lstrip_blocks=True, the loopcontrols extension, tojson with ensure_ascii=False, and the globals
// raise_exception and strftime_now).
//
// Supported: {{ }}, {% %}, {# #} with "-"/"+" whitespace control; if/elif/else; for (tuple
// targets, "if" filter, else, loop.*, break/continue); set (tuples, namespace attributes, block
// set); macro; filter blocks; generation blocks; raw blocks; the expression grammar of jinja2
// (literals, list/dict/tuple, arithmetic, comparisons, in / not in, ~, and/or/not, ternary,
// subscripts, slices, attributes, calls); the common filters, tests, str/dict methods and globals
// (range, namespace, dict, raise_exception, strftime_now). Anything else is an Input error naming
// the construct and the template line.
//
// Known differences from Python: case mapping (lower, upper, title, capitalize) covers ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic one-to-one; "%" formatting and str.format
// support positional arguments only (no "%(name)s", no "{:spec}").
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/template/budget.h"
#include "tokenizer/template/value.h"

namespace r1::tmpl {

struct Stmt;

class Template {
 public:
  // Lexes and parses; syntax errors are Input errors "chat template line N: ...".
  static Template parse(const std::string& source);
  // Renders with the given top-level variables (and the built-in globals), within the limits
  // (budget.h); going over them is an Input error.
  std::string render(const std::vector<std::pair<std::string, Value>>& vars,
                     const RenderLimits& limits = {}) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace r1::tmpl
