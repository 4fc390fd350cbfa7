// Attribute access, operators, filters and tests with the semantics of Python / jinja2 3.x
// (filters.py, tests.py) restricted to what chat templates use.
#include "tokenizer/template/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "tokenizer/template/budget.h"
#include "tokenizer/template/str_methods.h"

namespace r1::tmpl {

namespace {

// Python's int(x) of a float; ints past int64 (Python would make a big integer) and inf/nan (an
// OverflowError / ValueError in Python) are errors.
int64_t float_to_int(double d, int line) {
  if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
    template_error(line, "cannot convert ", float_repr(d), " to a 64-bit integer");
  return static_cast<int64_t>(d);
}

int64_t as_int(const Value& v, int line, const char* what) {
  if (v.type == Type::Int) return v.i;
  if (v.type == Type::Bool) return v.b;
  template_error(line, what, " must be an integer, not ", type_name(v));
}

// Python's slice.indices(length) for one bound.
int64_t clamp_index(const Value& v, int64_t len, int64_t step, bool is_start, int line) {
  if (v.is_none() || v.is_undefined()) {
    if (step > 0) return is_start ? 0 : len;
    return is_start ? len - 1 : -1;
  }
  int64_t k = as_int(v, line, "slice index");
  if (k < 0) {
    k += len;
    if (k < 0) k = step < 0 ? -1 : 0;
  } else if (k >= len) {
    k = step < 0 ? len - 1 : len;
  }
  return k;
}

Value filter_map_attr(const Value& item, const std::string& attr, int line) {
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = attr.find('.', start);
    std::string part =
        attr.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (numeric) {
      auto index = parse_int(part);
      if (!index) template_error(line, "attribute index ", part, " is out of range");
      v = get_item(v, Value::integer(*index), line);
    } else {
      v = get_attr(v, part, line);
    }
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

bool less_than(const Value& a, const Value& b, int line) {
  return binary_op("<", a, b, line).b;
}

CallArgs rest_args(const CallArgs& a, size_t from) {
  CallArgs r;
  for (size_t k = from; k < a.positional.size(); ++k) r.positional.push_back(a.positional[k]);
  r.keyword = a.keyword;
  return r;
}

}  // namespace

bool is_known_filter(const std::string& name) {
  static const std::set<std::string> names = {
      "length",  "count",  "default",    "d",          "trim",       "string", "safe",   "lower",
      "upper",   "title",  "capitalize", "tojson",     "join",       "first",  "last",   "list",
      "reverse", "items",  "dictsort",   "selectattr", "rejectattr", "select", "reject", "map",
      "replace", "int",    "float",      "abs",        "round",      "sum",    "min",    "max",
      "sort",    "unique", "indent",     "attr",       "format"};
  return names.count(name) > 0;
}

bool is_known_test(const std::string& name) {
  static const std::set<std::string> names = {
      "defined",  "undefined", "none",   "boolean", "true",     "false",       "integer",
      "float",    "number",    "string", "mapping", "iterable", "sequence",    "callable",
      "sameas",   "equalto",   "eq",     "==",      "ne",       "!=",          "lt",
      "lessthan", "<",         "le",     "<=",      "gt",       "greaterthan", ">",
      "ge",       ">=",        "in",     "odd",     "even",     "divisibleby", "lower",
      "upper",    "escaped"};
  return names.count(name) > 0;
}

Value get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined())
    template_error(line, "'", obj.s.empty() ? std::string("value") : obj.s,
                   "' is undefined (reading attribute '", name, "')");
  if (obj.is_string()) {
    Value m = string_method(obj.s, name);
    if (!m.is_undefined()) return m;
    return Value::undefined(name);
  }
  if (obj.is_mapping()) {
    Value m = dict_method(obj, name);
    if (!m.is_undefined()) return m;
  }
  if (obj.is_mapping() || obj.type == Type::Namespace) {
    const Value* v = obj.dict->find(name);
    return v ? *v : Value::undefined(name);
  }
  return Value::undefined(name);
}

Value get_item(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined())
    template_error(line, "'", obj.s.empty() ? std::string("value") : obj.s,
                   "' is undefined (reading item ", to_repr(key), ")");
  if ((obj.is_list() || obj.is_string()) && (key.type == Type::Int || key.type == Type::Bool)) {
    int64_t k = key.type == Type::Bool ? key.b : key.i;
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list->size());
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined();
      return (*obj.list)[static_cast<size_t>(k)];
    }
    std::vector<std::string> chars = utf8_chars(obj.s);
    int64_t n = static_cast<int64_t>(chars.size());
    if (k < 0) k += n;
    if (k < 0 || k >= n) return Value::undefined();
    return Value::string(chars[static_cast<size_t>(k)]);
  }
  if ((obj.is_mapping() || obj.type == Type::Namespace) && key.is_string()) {
    const Value* v = obj.dict->find(key.s);
    if (v) return *v;
  }
  if (key.is_string()) return get_attr(obj, key.s, line);
  return Value::undefined();
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v,
                int line) {
  int64_t step = step_v.is_none() ? 1 : as_int(step_v, line, "slice step");
  if (step == 0) template_error(line, "slice step cannot be zero");
  std::vector<std::string> chars;
  int64_t len = 0;
  if (obj.is_list()) {
    len = static_cast<int64_t>(obj.list->size());
  } else if (obj.is_string()) {
    chars = utf8_chars(obj.s);
    len = static_cast<int64_t>(chars.size());
  } else {
    template_error(line, "cannot slice a ", type_name(obj));
  }
  int64_t b = clamp_index(start, len, step, true, line);
  int64_t e = clamp_index(stop, len, step, false, line);
  List out;
  std::string s;
  for (int64_t k = b; step > 0 ? k < e : k > e; k += step) {
    if (obj.is_list())
      out.push_back((*obj.list)[static_cast<size_t>(k)]);
    else
      s += chars[static_cast<size_t>(k)];
  }
  return obj.is_list() ? Value::make_list(std::move(out)) : Value::string(s);
}

List iterate(const Value& v, int line) {
  switch (v.type) {
    case Type::Undefined:
      return {};
    case Type::List:
      return *v.list;
    case Type::Dict: {
      List keys;
      for (const auto& kv : v.dict->items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Type::String: {
      List chars;
      for (auto& c : utf8_chars(v.s)) chars.push_back(Value::string(c));
      return chars;
    }
    default:
      template_error(line, "'", type_name(v), "' object is not iterable");
  }
}

Value binary_op(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "in") {
    if (b.is_string()) {
      if (!a.is_string())
        template_error(line, "'in <string>' requires string as left operand, not ", type_name(a));
      return Value::boolean(b.s.find(a.s) != std::string::npos);
    }
    if (b.is_list()) {
      for (const auto& x : *b.list)
        if (equal(a, x)) return Value::boolean(true);
      return Value::boolean(false);
    }
    if (b.is_mapping()) return Value::boolean(a.is_string() && b.dict->find(a.s) != nullptr);
    if (b.is_undefined()) return Value::boolean(false);
    template_error(line, "argument of type '", type_name(b), "' is not iterable");
  }
  if (a.is_undefined() || b.is_undefined())
    template_error(line, "'", a.is_undefined() ? a.s : b.s, "' is undefined (operator ", op, ")");
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && a.type != Type::Float && b.type != Type::Float;
  auto ai = [&] { return a.type == Type::Bool ? static_cast<int64_t>(a.b) : a.i; };
  auto bi = [&] { return b.type == Type::Bool ? static_cast<int64_t>(b.b) : b.i; };
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    int c = 0;
    if (nums) {
      double x = a.as_double(), y = b.as_double();
      if (ints) {
        c = ai() < bi() ? -1 : ai() > bi() ? 1 : 0;
      } else {
        c = x < y ? -1 : x > y ? 1 : 0;
      }
    } else if (a.is_string() && b.is_string()) {
      c = a.s.compare(b.s);
    } else if (a.is_list() && b.is_list()) {
      size_t n = std::min(a.list->size(), b.list->size());
      for (size_t k = 0; k < n && c == 0; ++k) {
        if (equal((*a.list)[k], (*b.list)[k])) continue;
        c = less_than((*a.list)[k], (*b.list)[k], line) ? -1 : 1;
      }
      if (c == 0)
        c = a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size() ? 1 : 0;
    } else {
      template_error(line, "'", op, "' not supported between '", type_name(a), "' and '",
                     type_name(b), "'");
    }
    bool r = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
    return Value::boolean(r);
  }
  int64_t r = 0;
  auto checked = [&](bool overflow) {  // r holds the result once the builtin has run
    if (overflow) template_error(line, "integer overflow in ", op);
    return Value::integer(r);
  };
  if (op == "+") {
    if (ints) return checked(__builtin_add_overflow(ai(), bi(), &r));
    if (nums) return Value::real(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) return Value::string(a.s + b.s);
    if (a.is_list() && b.is_list()) {
      List l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      return Value::make_list(std::move(l));
    }
  } else if (op == "-") {
    if (ints) return checked(__builtin_sub_overflow(ai(), bi(), &r));
    if (nums) return Value::real(a.as_double() - b.as_double());
  } else if (op == "*") {
    if (ints) return checked(__builtin_mul_overflow(ai(), bi(), &r));
    if (nums) return Value::real(a.as_double() * b.as_double());
    const Value& seq = a.is_number() ? b : a;
    const Value& num = a.is_number() ? a : b;
    if (num.type == Type::Int || num.type == Type::Bool) {
      int64_t n = num.type == Type::Bool ? num.b : num.i;
      const uint64_t unit = seq.is_string() ? seq.s.size()
                            : seq.is_list() ? seq.list->size() * sizeof(Value)
                                            : 0;
      if (n > 0) budget::room(static_cast<uint64_t>(n), unit);
      if (seq.is_string()) {
        std::string s;
        for (int64_t k = 0; k < n; ++k) s += seq.s;
        return Value::string(s);
      }
      if (seq.is_list()) {
        List l;
        for (int64_t k = 0; k < n; ++k) l.insert(l.end(), seq.list->begin(), seq.list->end());
        return Value::make_list(std::move(l));
      }
    }
  } else if (op == "/") {
    if (nums) {
      if (b.as_double() == 0) template_error(line, "division by zero");
      return Value::real(a.as_double() / b.as_double());
    }
  } else if (op == "//" || op == "%") {
    if (nums) {
      if (b.as_double() == 0) template_error(line, "division by zero");
      if (ints) {
        if (ai() == INT64_MIN && bi() == -1) template_error(line, "integer overflow in ", op);
        int64_t q = ai() / bi(), rem = ai() % bi();
        if (rem != 0 && ((rem < 0) != (bi() < 0))) {  // Python floors toward -infinity
          --q;
          rem += bi();
        }
        return Value::integer(op == "//" ? q : rem);
      }
      double x = a.as_double(), y = b.as_double();
      double q = std::floor(x / y);
      return Value::real(op == "//" ? q : x - q * y);
    }
    if (op == "%" && a.is_string()) {
      try {
        return Value::string(py_percent_format(a.s, b.is_list() && b.tuple ? *b.list : List{b}));
      } catch (const Error& e) {
        rethrow_at(line, e);
      }
    }
  } else if (op == "**") {
    if (ints && bi() >= 0) {
      int64_t base = ai(), result = 1;
      for (int64_t e = bi(); e > 0; e >>= 1) {  // square-and-multiply, overflow-checked
        if ((e & 1) && __builtin_mul_overflow(result, base, &result))
          template_error(line, "integer overflow in **");
        if (e > 1 && __builtin_mul_overflow(base, base, &base))
          template_error(line, "integer overflow in **");
      }
      return Value::integer(result);
    }
    if (nums) return Value::real(std::pow(a.as_double(), b.as_double()));
  }
  template_error(line, "unsupported operand types for ", op, ": '", type_name(a), "' and '",
                 type_name(b), "'");
}

bool call_test(const std::string& name, const Value& v, CallArgs& a, int line) {
  const Value* arg = a.get(0, "value");
  auto need_arg = [&]() -> const Value& {
    if (!arg) template_error(line, "test '", name, "' needs an argument");
    return *arg;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.type == Type::Bool;
  if (name == "true") return v.type == Type::Bool && v.b;
  if (name == "false") return v.type == Type::Bool && !v.b;
  if (name == "integer") return v.type == Type::Int;
  if (name == "float") return v.type == Type::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_mapping();
  if (name == "iterable") return v.is_list() || v.is_mapping() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_mapping() || v.is_string();
  if (name == "callable") return v.type == Type::Callable;
  if (name == "sameas") {
    const Value& o = need_arg();
    if (v.type != o.type) return false;
    if (v.is_list()) return v.list == o.list;
    if (v.is_mapping() || v.type == Type::Namespace) return v.dict == o.dict;
    return equal(v, o);
  }
  if (name == "equalto" || name == "eq" || name == "==") return equal(v, need_arg());
  if (name == "ne" || name == "!=") return !equal(v, need_arg());
  if (name == "lt" || name == "lessthan" || name == "<")
    return binary_op("<", v, need_arg(), line).b;
  if (name == "le" || name == "<=") return binary_op("<=", v, need_arg(), line).b;
  if (name == "gt" || name == "greaterthan" || name == ">")
    return binary_op(">", v, need_arg(), line).b;
  if (name == "ge" || name == ">=") return binary_op(">=", v, need_arg(), line).b;
  if (name == "in") return binary_op("in", v, need_arg(), line).b;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    int64_t n = as_int(v, line, "test operand");
    if (name == "odd") return n % 2 != 0;
    if (name == "even") return n % 2 == 0;
    int64_t d = as_int(need_arg(), line, "divisibleby argument");
    return d != 0 && n % d == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    return name == "lower" ? py_lower(v.s) == v.s : py_upper(v.s) == v.s;
  }
  if (name == "escaped") return false;
  template_error(line, "unknown test '", name, "'");
}

Value call_filter(const std::string& name, const Value& v, CallArgs& a, int line) {
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::integer(static_cast<int64_t>(utf8_length(v.s)));
    if (v.is_list()) return Value::integer(static_cast<int64_t>(v.list->size()));
    if (v.is_mapping() || v.type == Type::Namespace)
      return Value::integer(static_cast<int64_t>(v.dict->items.size()));
    if (v.is_undefined()) return Value::integer(0);
    template_error(line, "object of type '", type_name(v), "' has no len()");
  }
  if (name == "default" || name == "d") {
    const Value* def = a.get(0, "default_value");
    const Value* boolean = a.get(1, "boolean");
    bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
    if (use_default) return def ? *def : Value::string("");
    return v;
  }
  if (name == "trim") return Value::string(py_strip(to_str(v), a.get(0, "chars"), true, true));
  if (name == "string") return v.is_string() ? v : Value::string(to_str(v));
  if (name == "safe") return v;
  if (name == "lower") return Value::string(py_lower(to_str(v)));
  if (name == "upper") return Value::string(py_upper(to_str(v)));
  if (name == "title") return Value::string(py_title(to_str(v)));
  if (name == "capitalize") return Value::string(py_capitalize(to_str(v)));
  if (name == "tojson") {
    // Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
    const Value* ensure_ascii = a.get(0, "ensure_ascii");
    const Value* indent = a.get(1, "indent");
    const Value* separators = a.get(2, "separators");
    const Value* sort_keys = a.get(3, "sort_keys");
    JsonStyle style;
    if (indent && !indent->is_none()) {
      // Python indents by ' ' * indent: a negative indent is 0; the budget bounds a large one.
      const int64_t n = as_int(*indent, line, "indent");
      if (n > (int64_t{1} << 30)) template_error(line, "tojson indent ", n, " is too large");
      style.indent = static_cast<int>(std::max<int64_t>(n, 0));
    }
    if (separators && separators->is_list() && separators->list->size() == 2) {
      style.item_sep = to_str((*separators->list)[0]);
      style.key_sep = to_str((*separators->list)[1]);
    } else {
      style.item_sep = style.indent >= 0 ? "," : ", ";
    }
    style.sort_keys = sort_keys && sort_keys->truthy();
    style.ensure_ascii = ensure_ascii && ensure_ascii->truthy();
    try {
      return Value::string(to_json(v, style));
    } catch (const Error& e) {
      rethrow_at(line, e);
    }
  }
  if (name == "join") {
    const Value* sep = a.get(0, "d");
    const Value* attr = a.get(1, "attribute");
    std::string out;
    bool first = true;
    const std::string separator = sep ? to_str(*sep) : "";
    for (const auto& item : iterate(v, line)) {
      std::string piece = to_str(attr ? filter_map_attr(item, to_str(*attr), line) : item);
      budget::room(out.size() + separator.size() + piece.size());
      if (!first) out += separator;
      first = false;
      out += piece;
    }
    return Value::string(out);
  }
  if (name == "first" || name == "last") {
    List items = iterate(v, line);
    if (items.empty()) return Value::undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::make_list(iterate(v, line));
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<std::string> chars = utf8_chars(v.s);
      std::string s;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) s += *it;
      return Value::string(s);
    }
    List items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "items" || name == "dictsort") {
    List out;
    if (v.is_mapping())
      for (const auto& kv : v.dict->items)
        out.push_back(Value::make_tuple({Value::string(kv.first), kv.second}));
    else if (!v.is_undefined())
      template_error(line, "filter '", name, "' expects a mapping, not ", type_name(v));
    if (name == "dictsort")
      std::stable_sort(out.begin(), out.end(), [](const Value& x, const Value& y) {
        return py_lower((*x.list)[0].s) < py_lower((*y.list)[0].s);
      });
    return Value::make_list(std::move(out));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    bool by_attr = name == "selectattr" || name == "rejectattr";
    bool keep_if = name == "selectattr" || name == "select";
    size_t test_pos = by_attr ? 1 : 0;
    if (by_attr && a.positional.empty()) template_error(line, name, " needs an attribute name");
    const Value* test = test_pos < a.positional.size() ? &a.positional[test_pos] : nullptr;
    CallArgs test_args = rest_args(a, test_pos + 1);
    List out;
    for (const auto& item : iterate(v, line)) {
      Value x = by_attr ? filter_map_attr(item, to_str(a.positional[0]), line) : item;
      bool ok = test ? call_test(to_str(*test), x, test_args, line) : x.truthy();
      if (ok == keep_if) out.push_back(item);
    }
    return Value::make_list(std::move(out));
  }
  if (name == "map") {
    const Value* attr = nullptr;
    for (const auto& kv : a.keyword)
      if (kv.first == "attribute") attr = &kv.second;
    List out;
    if (attr) {
      const Value* def = nullptr;
      for (const auto& kv : a.keyword)
        if (kv.first == "default") def = &kv.second;
      for (const auto& item : iterate(v, line)) {
        Value x = filter_map_attr(item, to_str(*attr), line);
        out.push_back(x.is_undefined() && def ? *def : x);
      }
    } else {
      if (a.positional.empty()) template_error(line, "map needs a filter name or attribute=");
      CallArgs fargs = rest_args(a, 1);
      fargs.keyword.clear();
      for (const auto& item : iterate(v, line))
        out.push_back(call_filter(to_str(a.positional[0]), item, fargs, line));
    }
    return Value::make_list(std::move(out));
  }
  if (name == "replace") {
    const Value* old_s = a.get(0, "old");
    const Value* new_s = a.get(1, "new");
    const Value* count = a.get(2, "count");
    if (!old_s || !new_s) template_error(line, "replace needs old and new strings");
    return Value::string(
        py_replace(to_str(v), to_str(*old_s), to_str(*new_s),
                   count && !count->is_none() ? as_int(*count, line, "count") : -1));
  }
  if (name == "int") {
    const Value* def = a.get(0, "default");
    if (v.type == Type::Int) return v;
    if (v.type == Type::Bool) return Value::integer(v.b);
    if (v.type == Type::Float) return Value::integer(float_to_int(v.f, line));
    if (v.is_string()) {
      std::string s = py_strip(v.s, nullptr, true, true);
      if (auto n = parse_int(s)) return Value::integer(*n);
      if (auto d = parse_float(s)) return Value::integer(float_to_int(*d, line));
    }
    return def ? *def : Value::integer(0);
  }
  if (name == "float") {
    const Value* def = a.get(0, "default");
    if (v.is_number()) return Value::real(v.as_double());
    if (v.is_string()) {
      std::string s = py_strip(v.s, nullptr, true, true);
      if (auto d = parse_float(s)) return Value::real(*d);
    }
    return def ? *def : Value::real(0);
  }
  if (name == "abs") {
    if (v.type == Type::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.is_number()) return Value::real(std::fabs(v.as_double()));
    template_error(line, "bad operand type for abs(): '", type_name(v), "'");
  }
  if (name == "round") {
    const Value* prec = a.get(0, "precision");
    double p = std::pow(10.0, prec ? static_cast<double>(as_int(*prec, line, "precision")) : 0.0);
    if (!v.is_number()) template_error(line, "round expects a number");
    return Value::real(std::round(v.as_double() * p) / p);
  }
  if (name == "sum") {
    const Value* attr = a.get(0, "attribute");
    const Value* start = a.get(1, "start");
    Value total = start ? *start : Value::integer(0);
    for (const auto& item : iterate(v, line))
      total = binary_op("+", total, attr ? filter_map_attr(item, to_str(*attr), line) : item, line);
    return total;
  }
  if (name == "min" || name == "max" || name == "sort" || name == "unique") {
    const Value* attr = nullptr;
    bool reverse = false;
    for (const auto& kv : a.keyword) {
      if (kv.first == "attribute") attr = &kv.second;
      if (kv.first == "reverse") reverse = kv.second.truthy();
    }
    if (name == "sort" && !a.positional.empty()) reverse = a.positional[0].truthy();
    List items = iterate(v, line);
    auto key = [&](const Value& x) {
      Value k = attr ? filter_map_attr(x, to_str(*attr), line) : x;
      return k.is_string() ? Value::string(py_lower(k.s)) : k;  // case_sensitive=False
    };
    if (name == "unique") {
      List out;
      for (const auto& x : items) {
        bool seen = false;
        for (const auto& y : out) seen = seen || equal(key(x), key(y));
        if (!seen) out.push_back(x);
      }
      return Value::make_list(std::move(out));
    }
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return less_than(key(x), key(y), line);
    });
    if (name == "sort") {
      if (reverse) std::reverse(items.begin(), items.end());
      return Value::make_list(std::move(items));
    }
    if (items.empty()) return Value::undefined(name);
    return name == "min" ? items.front() : items.back();
  }
  if (name == "indent") {
    const Value* width = a.get(0, "width");
    const Value* first = a.get(1, "first");
    const Value* blank = a.get(2, "blank");
    const int64_t n = width && !width->is_string() ? as_int(*width, line, "width") : 4;
    if (n < 0 || n > 4096) template_error(line, "indent width must be between 0 and 4096");
    std::string pad =
        width && width->is_string() ? width->s : std::string(static_cast<size_t>(n), ' ');
    return Value::string(
        py_indent(to_str(v), pad, first && first->truthy(), blank && blank->truthy()));
  }
  if (name == "format") {
    try {
      return Value::string(py_percent_format(to_str(v), a.positional));
    } catch (const Error& e) {
      rethrow_at(line, e);
    }
  }
  if (name == "attr") {
    const Value* n = a.get(0, "name");
    if (!n) template_error(line, "attr needs a name");
    return get_attr(v, to_str(*n), line);
  }
  template_error(line, "unknown filter '", name, "'");
}

}  // namespace r1::tmpl
