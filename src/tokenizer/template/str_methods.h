// Python str and dict methods that chat templates call (message.content.split('</think>'),
// message.get('x'), ...), and the string helpers the filters share. Case mapping covers ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic (one-to-one mappings only).
#pragma once

#include <string>

#include "tokenizer/template/value.h"

namespace r1::tmpl {

// A bound method of s called name, or Undefined when str has no such (supported) method.
Value string_method(const std::string& s, const std::string& name);
// A bound method of the dict d (get, items, keys, values), or Undefined.
Value dict_method(const Value& d, const std::string& name);

// str.strip/lstrip/rstrip: chars null or None -> whitespace, else the set of code points given.
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right);
std::string py_lower(const std::string& s);
std::string py_upper(const std::string& s);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
std::string py_replace(const std::string& s, const std::string& old_s, const std::string& new_s,
                       int64_t count);
// Python's printf-style fmt % args (flags -+ 0#, width, .precision; conversions s r a d i u f F
// e E g G x X o c %). "%(name)s" and "*" widths are Input errors.
std::string py_percent_format(const std::string& fmt, const List& args);
// Python's str.format with "{}", "{0}" and "{name}" fields and "{{" / "}}"; format specs and
// conversions ("{:>5}", "{!r}") are Input errors.
std::string py_str_format(const std::string& fmt, const CallArgs& args);
// jinja2's indent filter.
std::string py_indent(const std::string& s, const std::string& pad, bool first, bool blank);

}  // namespace r1::tmpl
