// Filters, tests, attribute/item access and methods of template values (internal to the
// interpreter). Errors are Input errors naming the template line.
#pragma once

#include <string>

#include "core/error.h"
#include "tokenizer/template/value.h"

namespace r1::tmpl {

template <typename... Args>
[[noreturn]] void template_error(int line, Args&&... args) {
  fail_input("chat template line ", line, ": ", std::forward<Args>(args)...);
}

// An error from inside a filter or function, placed at the template line unless it already names
// one (or is the render budget's, which names none).
[[noreturn]] inline void rethrow_at(int line, const Error& e) {
  if (std::string(e.what()).rfind("chat template", 0) == 0) throw e;
  template_error(line, e.what());
}

// jinja2's getattr: methods of str and dict first, then dict items; Undefined on a miss; an
// error on Undefined itself.
Value get_attr(const Value& obj, const std::string& name, int line);
// jinja2's getitem: obj[key] (negative list indices count from the end); Undefined on a miss.
Value get_item(const Value& obj, const Value& key, int line);
// obj[start:stop:step] on lists and strings with Python's slice rules.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step,
                int line);
// Elements a for loop visits: list items, dict keys, string characters; Undefined -> none.
List iterate(const Value& v, int line);

// Whether call_filter / call_test know a name (checked when a template is parsed, as jinja2 does
// when it compiles one).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

Value call_filter(const std::string& name, const Value& subject, CallArgs& args, int line);
bool call_test(const std::string& name, const Value& subject, CallArgs& args, int line);

// Python's binary operators (+ - * / // % ** < <= > >= in) with its type rules.
Value binary_op(const std::string& op, const Value& a, const Value& b, int line);

}  // namespace r1::tmpl
