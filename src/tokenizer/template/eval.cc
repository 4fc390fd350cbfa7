// The tree-walking evaluator of template.h. Scoping follows jinja2: each for-loop iteration and
// each macro call gets a fresh frame (assignments inside do not leak out; that is what
// namespace() is for), while if-blocks share the enclosing frame.
#include <cstdint>
#include <ctime>
#include <map>

#include "tokenizer/template/ast.h"
#include "tokenizer/template/budget.h"
#include "tokenizer/template/builtins.h"
#include "tokenizer/template/template.h"

namespace r1::tmpl {

namespace {

enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  explicit Renderer(const std::vector<std::pair<std::string, Value>>& vars) {
    frames_.emplace_back();
    install_globals();
    for (const auto& kv : vars) frames_[0][kv.first] = kv.second;
  }

  std::string render(const Body& body) {
    std::string out;
    out_ = &out;
    exec_body(body);
    return out;
  }

 private:
  using Frame = std::map<std::string, Value>;

  void install_globals() {
    Frame& g = frames_[0];
    g["range"] = Value::callable([](CallArgs& a) {
      std::vector<int64_t> n;
      for (const auto& v : a.positional) {
        if (v.type != Type::Int && v.type != Type::Bool) fail_input("range() expects integers");
        n.push_back(v.type == Type::Bool ? v.b : v.i);
      }
      if (n.empty() || n.size() > 3) fail_input("range() expects 1 to 3 arguments");
      const int64_t start = n.size() == 1 ? 0 : n[0], stop = n.size() == 1 ? n[0] : n[1];
      const int64_t step = n.size() == 3 ? n[2] : 1;
      if (step == 0) fail_input("range() step must not be zero");
      // The length first, in 128 bits (stop - start may overflow int64), and charged before
      // anything is built.
      const __int128 span = static_cast<__int128>(stop) - start;
      const __int128 count = step > 0 ? (span > 0 ? (span + step - 1) / step : 0)
                                      : (span < 0 ? (span + step + 1) / step : 0);
      if (count > 10'000'000) fail_input("range() of more than 10000000 numbers");
      budget::room(static_cast<uint64_t>(count), sizeof(Value));
      List out;
      out.reserve(static_cast<size_t>(count));
      for (int64_t k = 0; k < static_cast<int64_t>(count); ++k)
        out.push_back(
            Value::integer(static_cast<int64_t>(start + static_cast<__int128>(k) * step)));
      return Value::make_list(std::move(out));
    });
    g["namespace"] = Value::callable([](CallArgs& a) {
      Value ns = Value::make_namespace();
      for (const auto& v : a.positional)
        if (v.is_mapping())
          for (const auto& kv : v.dict->items) ns.dict->set(kv.first, kv.second);
      for (const auto& kv : a.keyword) ns.dict->set(kv.first, kv.second);
      return ns;
    });
    g["dict"] = Value::callable([](CallArgs& a) {
      Value d = Value::make_dict();
      for (const auto& v : a.positional)
        if (v.is_mapping())
          for (const auto& kv : v.dict->items) d.dict->set(kv.first, kv.second);
      for (const auto& kv : a.keyword) d.dict->set(kv.first, kv.second);
      return d;
    });
    g["raise_exception"] = Value::callable([](CallArgs& a) -> Value {
      std::string message = a.positional.empty() ? std::string() : to_str(a.positional[0]);
      for (size_t k = message.find('\n'); k != std::string::npos; k = message.find('\n', k))
        message.replace(k, 1, " ");  // errors are one line
      fail_input("chat template raised an exception: ", message);
    });
    g["strftime_now"] = Value::callable([](CallArgs& a) {
      const Value* fmt = a.get(0, "format");
      if (!fmt || !fmt->is_string()) fail_input("strftime_now() expects a format string");
      std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[256];
      size_t n = std::strftime(buf, sizeof(buf), fmt->s.c_str(), &tm);
      return Value::string(std::string(buf, n));
    });
  }

  Value lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value::undefined(name);
  }

  void assign(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) {
      frames_.back()[targets[0]] = v;
      return;
    }
    List items = iterate(v, line);
    if (items.size() != targets.size())
      template_error(line, "cannot unpack ", items.size(), " values into ", targets.size(),
                     " names");
    for (size_t k = 0; k < targets.size(); ++k) frames_.back()[targets[k]] = items[k];
  }

  Flow exec_body(const Body& body) {
    for (const auto& s : body) {
      Flow f = exec(*s);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  std::string capture(const Body& body) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    exec_body(body);
    out_ = saved;
    return buf;
  }

  void emit(const std::string& text) {
    budget::bytes(text.size());
    *out_ += text;
  }

  Flow exec(const Stmt& s) {
    budget::step();
    switch (s.kind) {
      case Stmt::Text:
        emit(s.text);
        return Flow::Normal;
      case Stmt::Output:
        emit(to_str(eval(*s.expr)));
        return Flow::Normal;
      case Stmt::If:
        for (const auto& br : s.branches)
          if (!br.first || eval(*br.first).truthy()) return exec_body(br.second);
        return Flow::Normal;
      case Stmt::For:
        return exec_for(s);
      case Stmt::Set:
        if (!s.attr.empty()) {
          Value target = lookup(s.targets[0]);
          if (target.type != Type::Namespace)
            template_error(s.line, "cannot set attribute '", s.attr, "' of '", s.targets[0],
                           "' (a ", type_name(target), ", not a namespace())");
          target.dict->set(s.attr, eval(*s.expr));
        } else {
          assign(s.targets, eval(*s.expr), s.line);
        }
        return Flow::Normal;
      case Stmt::SetBlock:
        frames_.back()[s.targets[0]] = Value::string(capture(s.body));
        return Flow::Normal;
      case Stmt::Macro:
        define_macro(s);
        return Flow::Normal;
      case Stmt::Break:
        return Flow::Break;
      case Stmt::Continue:
        return Flow::Continue;
      case Stmt::Block:
        if (s.text.empty()) return exec_body(s.body);
        {
          CallArgs none;
          emit(to_str(call_filter(s.text, Value::string(capture(s.body)), none, s.line)));
        }
        return Flow::Normal;
    }
    return Flow::Normal;
  }

  Flow exec_for(const Stmt& s) {
    List items = iterate(eval(*s.expr), s.line);
    if (s.cond) {
      List kept;
      for (const auto& item : items) {
        budget::step();
        frames_.emplace_back();
        assign(s.targets, item, s.line);
        bool keep = eval(*s.cond).truthy();
        frames_.pop_back();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec_body(s.else_body);
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < n; ++k) {
      for (int c = 0; c < kLoopSteps; ++c) budget::step();
      Value loop = Value::make_dict();
      Dict& d = *loop.dict;
      d.set("index", Value::integer(k + 1));
      d.set("index0", Value::integer(k));
      d.set("revindex", Value::integer(n - k));
      d.set("revindex0", Value::integer(n - k - 1));
      d.set("first", Value::boolean(k == 0));
      d.set("last", Value::boolean(k == n - 1));
      d.set("length", Value::integer(n));
      d.set("depth", Value::integer(1));
      d.set("depth0", Value::integer(0));
      d.set("previtem", k > 0 ? items[static_cast<size_t>(k - 1)] : Value::undefined("previtem"));
      d.set("nextitem",
            k + 1 < n ? items[static_cast<size_t>(k + 1)] : Value::undefined("nextitem"));
      d.set("cycle", Value::callable([k](CallArgs& a) -> Value {
              if (a.positional.empty()) fail_input("loop.cycle() needs at least one argument");
              return a.positional[static_cast<size_t>(k) % a.positional.size()];
            }));
      frames_.emplace_back();
      frames_.back()["loop"] = loop;
      assign(s.targets, items[static_cast<size_t>(k)], s.line);
      Flow f = exec_body(s.body);
      frames_.pop_back();
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void define_macro(const Stmt& s) {
    const Stmt* macro = &s;
    frames_.back()[s.text] = Value::callable([this, macro](CallArgs& a) -> Value {
      if (a.positional.size() > macro->params.size())
        template_error(macro->line, "macro '", macro->text, "' takes ", macro->params.size(),
                       " arguments, got ", a.positional.size());
      for (const auto& kv : a.keyword) {
        bool known = false;
        for (const auto& p : macro->params) known = known || p.first == kv.first;
        if (!known)
          template_error(macro->line, "macro '", macro->text, "' takes no keyword argument '",
                         kv.first, "'");
      }
      if (macro_depth_ >= kMaxMacroDepth)
        template_error(macro->line, "macro '", macro->text, "' recursion deeper than ",
                       kMaxMacroDepth);
      ++macro_depth_;
      struct Undo {
        int& d;
        ~Undo() { --d; }
      } undo{macro_depth_};
      std::vector<Frame> saved = std::move(frames_);
      frames_.clear();
      frames_.push_back(saved[0]);
      frames_.emplace_back();
      try {
        for (size_t k = 0; k < macro->params.size(); ++k) {
          const auto& p = macro->params[k];
          const Value* v = a.get(k, p.first);
          frames_.back()[p.first] = v ? *v : p.second ? eval(*p.second) : Value::undefined(p.first);
        }
        std::string text = capture(macro->body);
        frames_ = std::move(saved);
        return Value::string(text);
      } catch (...) {
        frames_ = std::move(saved);
        throw;
      }
    });
  }

  CallArgs eval_args(const Expr& e, size_t first) {
    CallArgs a;
    for (size_t k = first; k < e.args.size(); ++k) a.positional.push_back(eval(*e.args[k]));
    for (const auto& kv : e.kwargs) a.keyword.emplace_back(kv.first, eval(*kv.second));
    return a;
  }

  // Every expression costs a step, and a string it yields the bytes of its copy (a name or item
  // lookup copies the string it finds).
  Value eval(const Expr& e) {
    budget::step();
    Value v = eval_node(e);
    if (v.is_string()) budget::bytes(v.s.size());
    return v;
  }

  Value eval_node(const Expr& e) {
    switch (e.kind) {
      case Expr::Literal:
        return e.value;
      case Expr::Name:
        return lookup(e.name);
      case Expr::ListLit:
      case Expr::TupleLit: {
        List l;
        for (const auto& a : e.args) l.push_back(eval(*a));
        return e.kind == Expr::TupleLit ? Value::make_tuple(std::move(l))
                                        : Value::make_list(std::move(l));
      }
      case Expr::DictLit: {
        Value d = Value::make_dict();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k]);
          if (!key.is_string()) template_error(e.line, "dict keys must be strings");
          d.dict->set(key.s, eval(*e.args[k + 1]));
        }
        return d;
      }
      case Expr::Attr:
        return get_attr(eval(*e.args[0]), e.name, e.line);
      case Expr::Index:
        return get_item(eval(*e.args[0]), eval(*e.args[1]), e.line);
      case Expr::Slice: {
        auto part = [&](size_t k) { return e.args[k] ? eval(*e.args[k]) : Value::none(); };
        return get_slice(eval(*e.args[0]), part(1), part(2), part(3), e.line);
      }
      case Expr::Call: {
        Value callee = eval(*e.args[0]);
        if (callee.type != Type::Callable) {
          std::string what = e.args[0]->kind == Expr::Name   ? e.args[0]->name
                             : e.args[0]->kind == Expr::Attr ? "." + e.args[0]->name
                                                             : "expression";
          template_error(e.line, "'", what, "' is ",
                         callee.is_undefined() ? "undefined" : "not callable",
                         " (unsupported function or method?)");
        }
        CallArgs a = eval_args(e, 1);
        try {
          return (*callee.fn)(a);
        } catch (const Error& err) {
          rethrow_at(e.line, err);
        }
      }
      case Expr::Filter: {
        Value subject = eval(*e.args[0]);
        CallArgs a = eval_args(e, 1);
        return call_filter(e.name, subject, a, e.line);
      }
      case Expr::Test: {
        Value subject = eval(*e.args[0]);
        CallArgs a = eval_args(e, 1);
        bool r = call_test(e.name, subject, a, e.line);
        return Value::boolean(e.negated ? !r : r);
      }
      case Expr::Unary: {
        Value v = eval(*e.args[0]);
        if (v.type == Type::Int || v.type == Type::Bool) {
          int64_t x = v.type == Type::Bool ? v.b : v.i;
          if (e.name == "+") return Value::integer(x);
          if (x == INT64_MIN) template_error(e.line, "integer overflow in unary -");
          return Value::integer(-x);
        }
        if (v.type == Type::Float) return Value::real(e.name == "-" ? -v.f : v.f);
        template_error(e.line, "bad operand type for unary ", e.name, ": '", type_name(v), "'");
      }
      case Expr::Binary: {
        Value a = eval(*e.args[0]);
        Value b = eval(*e.args[1]);
        if (e.name == "~") return Value::string(to_str(a) + to_str(b));
        if (e.name == "==") return Value::boolean(equal(a, b));
        if (e.name == "!=") return Value::boolean(!equal(a, b));
        if (e.name == "not in") return Value::boolean(!binary_op("in", a, b, e.line).b);
        return binary_op(e.name, a, b, e.line);
      }
      case Expr::And: {
        Value a = eval(*e.args[0]);
        return a.truthy() ? eval(*e.args[1]) : a;
      }
      case Expr::Or: {
        Value a = eval(*e.args[0]);
        return a.truthy() ? a : eval(*e.args[1]);
      }
      case Expr::Not:
        return Value::boolean(!eval(*e.args[0]).truthy());
      case Expr::Cond:
        if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined();
    }
    return Value::undefined();
  }

  static constexpr int kMaxMacroDepth = 100;
  // An iteration builds the loop object (a dict of 12 entries): about as much work as 10 steps.
  static constexpr int kLoopSteps = 10;
  std::vector<Frame> frames_;
  std::string* out_ = nullptr;
  int macro_depth_ = 0;
};

}  // namespace

Template Template::parse(const std::string& source) {
  Template t;
  t.body_ = std::make_shared<const Body>(tmpl::parse(lex(source)));
  return t;
}

std::string Template::render(const std::vector<std::pair<std::string, Value>>& vars,
                             const RenderLimits& limits) const {
  budget::Scope scope(limits);
  Renderer r(vars);
  return r.render(*body_);
}

}  // namespace r1::tmpl
