// Values of the Jinja2 interpreter: the Python objects that chat templates see (None, bool, int,
// float, str, list, dict) plus jinja2's Undefined, namespace() objects and callables.
// Lists, dicts and namespaces are shared by reference, as in Python, so that
// `{% set ns.x = ... %}` is seen through every name bound to the same namespace.
// Dicts keep insertion order (Python 3.7+ semantics), which tojson and items() rely on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::tmpl {

struct Value;
struct CallArgs;
using List = std::vector<Value>;
using Function = std::function<Value(CallArgs&)>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

struct Value {
  Type type = Type::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // String; for Undefined the name that was looked up (for error messages)
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // Dict and Namespace
  std::shared_ptr<Function> fn;
  bool tuple = false;  // a List that Python would hold as a tuple (prints as (a, b))

  Value() = default;
  static Value undefined(std::string name = "");
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value real(double v);
  static Value string(std::string v);
  static Value make_list(List v = {});
  static Value make_tuple(List v);
  static Value make_dict();
  static Value make_namespace();
  static Value callable(Function f);

  bool is_undefined() const { return type == Type::Undefined; }
  bool is_none() const { return type == Type::None; }
  bool is_string() const { return type == Type::String; }
  bool is_number() const { return type == Type::Int || type == Type::Float || type == Type::Bool; }
  bool is_list() const { return type == Type::List; }
  bool is_mapping() const { return type == Type::Dict; }

  // Python truthiness; Undefined is false.
  bool truthy() const;
  double as_double() const;
};

// Call arguments of a filter, test, method or global function.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // The i-th positional argument, else the keyword argument called name, else nullptr.
  const Value* get(size_t index, const std::string& name) const;
};

// Python's type name of a value ("str", "dict", ...) for error messages.
const char* type_name(const Value& v);

// str(v) as jinja2 prints it: None -> "None", True -> "True", 1.0 -> "1.0", lists and dicts as
// Python reprs, Undefined -> "".
std::string to_str(const Value& v);
// repr(v): strings quoted as Python does.
std::string to_repr(const Value& v);
// Python float repr (shortest round-trip digits, "1e+16", "1.5e-05", "2.0").
std::string float_repr(double d);
// json.dumps options (Python's defaults: one line, ", " and ": ", ensure_ascii as given).
struct JsonStyle {
  int indent = -1;  // < 0: None (single line); else newlines and this many spaces per level
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps(v, ...) as Hugging Face's tojson calls it. Non-JSON values (Undefined, callables)
// are an Input error.
std::string to_json(const Value& v, const JsonStyle& style);

// Whole-string number parsing without exceptions: an optional sign and decimal digits that fit
// int64; a decimal float as strtod reads it (out of range -> +-inf, as Python's float()).
// nullopt when the text is not entirely a number.
std::optional<int64_t> parse_int(const std::string& s);
std::optional<double> parse_float(const std::string& s);

// Python == between values (1 == 1.0 == True, lists and dicts element-wise).
bool equal(const Value& a, const Value& b);

Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

// UTF-8 helpers: strings are indexed, sliced and measured in code points, as Python does.
std::vector<std::string> utf8_chars(const std::string& s);
size_t utf8_length(const std::string& s);

}  // namespace r1::tmpl
