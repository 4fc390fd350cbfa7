// Recursive-descent parser with jinja2's grammar and operator precedence (parser.py):
// condexpr < or < and < not < compare (==, !=, <, >, <=, >=, in, not in) < + - < ~ <
// * / // % < ** < unary - + < primary with postfix (.attr, [index], [a:b:c], call) and filters
// (| name) and tests (is [not] name) binding tightest.
#include <set>

#include "core/error.h"
#include "tokenizer/template/ast.h"
#include "tokenizer/template/builtins.h"

namespace r1::tmpl {

namespace {

ExprPtr make(Expr::Kind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

ExprPtr make2(Expr::Kind kind, int line, std::string name, ExprPtr a, ExprPtr b) {
  auto e = make(kind, line);
  e->name = std::move(name);
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return e;
}

// Deeper nesting than this (brackets, blocks, operator chains along one path of the tree) is an
// Input error, so that parsing, evaluation and destruction never overflow the stack.
constexpr int kMaxDepth = 1000;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  // Counts nesting while alive; bump() once per extra level (an operator in a chain).
  class Depth {
   public:
    explicit Depth(Parser& p) : p_(p) { bump(); }
    ~Depth() { p_.depth_ -= n_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    void bump() {
      ++n_;
      if (++p_.depth_ > kMaxDepth) p_.error("nesting too deep");
    }

   private:
    Parser& p_;
    int n_ = 0;
  };

  Body parse_template() {
    std::string end;
    Body body = parse_until({}, end);
    return body;
  }

 private:
  const Token& cur() const { return t_[p_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(p_ + n, t_.size() - 1)]; }
  bool is_op(const char* op) const { return cur().kind == Tok::Op && cur().text == op; }
  bool is_name(const char* name) const { return cur().kind == Tok::Name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    ++p_;
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    ++p_;
    return true;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::Text:
        return "template text";
      case Tok::VarBegin:
        return "'{{'";
      case Tok::VarEnd:
        return "'}}'";
      case Tok::BlockBegin:
        return "'{%'";
      case Tok::BlockEnd:
        return "'%}'";
      case Tok::End:
        return "end of template";
      case Tok::String:
        return "string " + to_repr(Value::string(t.text));
      default:
        return "'" + t.text + "'";
    }
  }

  [[noreturn]] void error(const std::string& what) const {
    fail_input("chat template line ", cur().line, ": ", what, " (found ", describe(cur()), ")");
  }

  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "'");
  }
  std::string expect_name() {
    if (cur().kind != Tok::Name) error("expected a name");
    return t_[p_++].text;
  }
  void expect_block_end() {
    if (cur().kind != Tok::BlockEnd) error("expected '%}'");
    ++p_;
  }

  // Statements until a {% NAME %} with NAME in ends (consumed up to and including NAME).
  Body parse_until(const std::set<std::string>& ends, std::string& found) {
    Body body;
    int start_line = cur().line;
    while (true) {
      const Token& t = cur();
      if (t.kind == Tok::End) {
        if (!ends.empty())
          fail_input("chat template line ", start_line, ": missing {% ", *ends.rbegin(), " %}");
        return body;
      }
      if (t.kind == Tok::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Text;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        ++p_;
      } else if (t.kind == Tok::VarBegin) {
        ++p_;
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Output;
        s->line = t.line;
        s->expr = parse_expr();
        if (cur().kind != Tok::VarEnd) error("expected '}}'");
        ++p_;
        body.push_back(std::move(s));
      } else if (t.kind == Tok::BlockBegin) {
        ++p_;
        if (cur().kind != Tok::Name) error("expected a statement name");
        if (ends.count(cur().text)) {
          found = t_[p_++].text;
          return body;
        }
        body.push_back(parse_statement());
      } else {
        error("unexpected token");
      }
    }
  }

  std::unique_ptr<Stmt> parse_statement() {
    Depth depth(*this);
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    std::string kw = expect_name();
    std::string end;
    if (kw == "if") {
      s->kind = Stmt::If;
      ExprPtr c = parse_expr();
      expect_block_end();
      while (true) {
        Body b = parse_until({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(c), std::move(b));
        if (end == "elif") {
          c = parse_expr();
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          s->branches.emplace_back(nullptr, parse_until({"endif"}, end));
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (kw == "for") {
      s->kind = Stmt::For;
      bool paren = skip_op("(");
      s->targets.push_back(expect_name());
      while (skip_op(",")) s->targets.push_back(expect_name());
      if (paren) expect_op(")");
      if (!skip_name("in")) error("expected 'in' in for loop");
      s->expr = parse_tuple_or_expr(false);
      if (skip_name("if")) s->cond = parse_expr();
      if (is_name("recursive")) error("recursive for loops are not supported");
      expect_block_end();
      s->body = parse_until({"else", "endfor"}, end);
      if (end == "else") {
        expect_block_end();
        s->else_body = parse_until({"endfor"}, end);
      }
      expect_block_end();
    } else if (kw == "set") {
      s->targets.push_back(expect_name());
      if (skip_op(".")) s->attr = expect_name();
      while (s->attr.empty() && skip_op(",")) s->targets.push_back(expect_name());
      if (skip_op("=")) {
        s->kind = Stmt::Set;
        s->expr = parse_tuple_or_expr(true);
        expect_block_end();
      } else {
        if (!s->attr.empty() || s->targets.size() != 1) error("expected '=' in set");
        s->kind = Stmt::SetBlock;
        expect_block_end();
        s->body = parse_until({"endset"}, end);
        expect_block_end();
      }
    } else if (kw == "macro") {
      s->kind = Stmt::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!skip_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (skip_op(")")) break;
        std::string name = expect_name();
        ExprPtr def;
        if (skip_op("=")) def = parse_expr();
        s->params.emplace_back(name, std::move(def));
      }
      expect_block_end();
      s->body = parse_until({"endmacro"}, end);
      expect_block_end();
    } else if (kw == "break" || kw == "continue") {
      s->kind = kw == "break" ? Stmt::Break : Stmt::Continue;
      expect_block_end();
    } else if (kw == "generation") {
      s->kind = Stmt::Block;
      expect_block_end();
      s->body = parse_until({"endgeneration"}, end);
      expect_block_end();
    } else if (kw == "filter") {
      s->kind = Stmt::Block;
      s->text = expect_name();
      expect_block_end();
      s->body = parse_until({"endfilter"}, end);
      expect_block_end();
    } else {
      --p_;
      error("unsupported statement '" + kw + "'");
    }
    return s;
  }

  // An expression, or a tuple "a, b" (evaluated to a list) when a comma follows.
  ExprPtr parse_tuple_or_expr(bool with_condexpr) {
    int line = cur().line;
    ExprPtr first = with_condexpr ? parse_expr() : parse_or();
    if (!is_op(",")) return first;
    auto tuple = make(Expr::TupleLit, line);
    tuple->args.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().kind == Tok::BlockEnd || is_name("if")) break;
      tuple->args.push_back(with_condexpr ? parse_expr() : parse_or());
    }
    return tuple;
  }

 public:
  ExprPtr parse_expr() {
    Depth depth(*this);
    ExprPtr e = parse_or();
    while (is_name("if")) {
      depth.bump();
      int line = cur().line;
      ++p_;
      auto c = make(Expr::Cond, line);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(skip_name("else") ? parse_expr() : nullptr);
      e = std::move(c);
    }
    return e;
  }

 private:
  ExprPtr parse_or() {
    Depth depth(*this);
    ExprPtr e = parse_and();
    while (is_name("or")) {
      depth.bump();
      int line = cur().line;
      ++p_;
      e = make2(Expr::Or, line, "or", std::move(e), parse_and());
    }
    return e;
  }
  ExprPtr parse_and() {
    Depth depth(*this);
    ExprPtr e = parse_not();
    while (is_name("and")) {
      depth.bump();
      int line = cur().line;
      ++p_;
      e = make2(Expr::And, line, "and", std::move(e), parse_not());
    }
    return e;
  }
  ExprPtr parse_not() {
    Depth depth(*this);
    if (is_name("not")) {
      auto e = make(Expr::Not, cur().line);
      ++p_;
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    Depth depth(*this);
    ExprPtr e = parse_math1();
    while (true) {
      depth.bump();
      int line = cur().line;
      std::string op;
      if (cur().kind == Tok::Op &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = cur().text;
        ++p_;
      } else if (is_name("in")) {
        op = "in";
        ++p_;
      } else if (is_name("not") && peek().kind == Tok::Name && peek().text == "in") {
        op = "not in";
        p_ += 2;
      } else {
        return e;
      }
      e = make2(Expr::Binary, line, op, std::move(e), parse_math1());
    }
  }
  ExprPtr parse_math1() {
    Depth depth(*this);
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      depth.bump();
      std::string op = cur().text;
      int line = cur().line;
      ++p_;
      e = make2(Expr::Binary, line, op, std::move(e), parse_concat());
    }
    return e;
  }
  ExprPtr parse_concat() {
    Depth depth(*this);
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      depth.bump();
      int line = cur().line;
      ++p_;
      e = make2(Expr::Binary, line, "~", std::move(e), parse_math2());
    }
    return e;
  }
  ExprPtr parse_math2() {
    Depth depth(*this);
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      depth.bump();
      std::string op = cur().text;
      int line = cur().line;
      ++p_;
      e = make2(Expr::Binary, line, op, std::move(e), parse_pow());
    }
    return e;
  }
  ExprPtr parse_pow() {
    Depth depth(*this);
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      depth.bump();
      int line = cur().line;
      ++p_;
      e = make2(Expr::Binary, line, "**", std::move(e), parse_unary(true));
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    Depth depth(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make(Expr::Unary, cur().line);
      e->name = cur().text;
      ++p_;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    if (t.kind == Tok::Name) {
      ++p_;
      auto e = make(Expr::Literal, line);
      if (t.text == "true" || t.text == "True") {
        e->value = Value::boolean(true);
      } else if (t.text == "false" || t.text == "False") {
        e->value = Value::boolean(false);
      } else if (t.text == "none" || t.text == "None") {
        e->value = Value::none();
      } else {
        e->kind = Expr::Name;
        e->name = t.text;
      }
      return e;
    }
    if (t.kind == Tok::String) {
      std::string s;
      while (cur().kind == Tok::String) s += t_[p_++].text;  // adjacent literals concatenate
      auto e = make(Expr::Literal, line);
      e->value = Value::string(s);
      return e;
    }
    if (t.kind == Tok::Int || t.kind == Tok::Float) {
      ++p_;
      auto e = make(Expr::Literal, line);
      if (t.kind == Tok::Int) {
        auto n = parse_int(t.text);
        if (!n) fail_input("chat template line ", line, ": integer ", t.text, " is out of range");
        e->value = Value::integer(*n);
      } else {
        auto d = parse_float(t.text);
        if (!d) fail_input("chat template line ", line, ": bad number '", t.text, "'");
        e->value = Value::real(*d);
      }
      return e;
    }
    if (skip_op("(")) {
      if (skip_op(")")) return make(Expr::TupleLit, line);
      ExprPtr first = parse_expr();
      if (skip_op(")")) return first;
      auto tuple = make(Expr::TupleLit, line);
      tuple->args.push_back(std::move(first));
      while (skip_op(",")) {
        if (is_op(")")) break;
        tuple->args.push_back(parse_expr());
      }
      expect_op(")");
      return tuple;
    }
    if (skip_op("[")) {
      auto list = make(Expr::ListLit, line);
      while (!skip_op("]")) {
        if (!list->args.empty()) {
          expect_op(",");
          if (skip_op("]")) break;
        }
        list->args.push_back(parse_expr());
      }
      return list;
    }
    if (skip_op("{")) {
      auto dict = make(Expr::DictLit, line);
      while (!skip_op("}")) {
        if (!dict->args.empty()) {
          expect_op(",");
          if (skip_op("}")) break;
        }
        dict->args.push_back(parse_expr());
        expect_op(":");
        dict->args.push_back(parse_expr());
      }
      return dict;
    }
    error("expected an expression");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    Depth depth(*this);
    while (true) {
      depth.bump();
      int line = cur().line;
      if (skip_op(".")) {
        if (cur().kind == Tok::Int) {
          auto idx = make(Expr::Literal, line);
          auto n = parse_int(t_[p_++].text);
          if (!n)
            fail_input("chat template line ", line, ": index ", t_[p_ - 1].text,
                       " is out of range");
          idx->value = Value::integer(*n);
          e = make2(Expr::Index, line, "", std::move(e), std::move(idx));
        } else {
          auto a = make(Expr::Attr, line);
          a->name = expect_name();
          a->args.push_back(std::move(e));
          e = std::move(a);
        }
      } else if (skip_op("[")) {
        e = parse_subscript(std::move(e), line);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int line) {
    ExprPtr start, stop, step;
    if (!is_op(":")) start = parse_expr();
    if (!skip_op(":")) {
      expect_op("]");
      return make2(Expr::Index, line, "", std::move(obj), std::move(start));
    }
    if (!is_op("]") && !is_op(":")) stop = parse_expr();
    if (skip_op(":") && !is_op("]")) step = parse_expr();
    expect_op("]");
    auto s = make(Expr::Slice, line);
    s->args.push_back(std::move(obj));
    s->args.push_back(std::move(start));
    s->args.push_back(std::move(stop));
    s->args.push_back(std::move(step));
    return s;
  }

  // Parses "(args)" into e's args (after those already there) and kwargs.
  void parse_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) {
        expect_op(",");
        if (skip_op(")")) break;
      }
      first = false;
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == "=") {
        std::string name = t_[p_].text;
        p_ += 2;
        e.kwargs.emplace_back(name, parse_expr());
      } else {
        if (!e.kwargs.empty()) error("positional argument after keyword argument");
        e.args.push_back(parse_expr());
      }
    }
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = make(Expr::Call, cur().line);
    c->args.push_back(std::move(callee));
    parse_args(*c);
    return c;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    Depth depth(*this);
    while (true) {
      depth.bump();
      int line = cur().line;
      if (skip_op("|")) {
        auto f = make(Expr::Filter, line);
        f->name = expect_name();
        while (skip_op(".")) f->name += "." + expect_name();
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_args(*f);
        e = std::move(f);
      } else if (skip_name("is")) {
        auto t = make(Expr::Test, line);
        t->negated = skip_name("not");
        t->name = expect_name();
        while (skip_op(".")) t->name += "." + expect_name();
        t->args.push_back(std::move(e));
        Tok k = cur().kind;
        if (is_op("(")) {
          parse_args(*t);
        } else if ((k == Tok::Name || k == Tok::String || k == Tok::Int || k == Tok::Float ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) error("cannot chain tests with 'is'");
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  const std::vector<Token>& t_;
  size_t p_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) {
  return Parser(tokens).parse_template();
}

}  // namespace r1::tmpl
