// Tokens and syntax tree of the Jinja2 subset that chat templates use (see template.h).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/template/value.h"

namespace r1::tmpl {

enum class Tok {
  Text,        // template data between tags, whitespace control already applied
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,        // identifier or keyword
  String,      // string literal, escapes decoded
  Int,         // integer literal
  Float,       // float literal
  Op,          // operator or punctuation: + - * / // % ** ~ == != < > <= >= = . , : | ( ) [ ] { }
  End,         // end of the template
};

struct Token {
  Tok kind;
  std::string text;
  int line;
};

// Splits a template into tokens with jinja2's whitespace rules as Hugging Face configures them
// (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False). Comments are dropped.
std::vector<Token> lex(const std::string& source);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    Literal,   // value
    Name,      // name
    ListLit,   // args
    TupleLit,  // args (evaluates to a list)
    DictLit,   // args: key0, value0, key1, value1, ...
    Attr,      // args[0].name
    Index,     // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (null parts omitted)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // args[0] | name(args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..])
    Unary,     // name in {"-", "+"} applied to args[0]
    Binary,    // args[0] name args[1]; name is an arithmetic/comparison operator, "in" or "not in"
    And,       // args[0] and args[1]
    Or,        // args[0] or args[1]
    Not,       // not args[0]
    Cond,      // args[1] if args[0] else args[2] (args[2] may be null: undefined)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum Kind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches: (condition or null for else, body)
    For,       // for targets in expr [if cond] body [else else_body]
    Set,       // set targets = expr; or set targets[0].attr = expr when attr is not empty
    SetBlock,  // {% set targets[0] %}body{% endset %}
    Macro,     // {% macro name(params) %}body{% endmacro %}
    Break,
    Continue,
    Block,  // a body rendered in place ({% generation %}, {% filter %} with filter name)
  };
  Kind kind;
  int line = 0;
  std::string text;  // Text; Macro name; Block filter name (empty: none)
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::string> targets;
  std::string attr;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters with defaults
};

// Parses the tokens of a whole template; syntax errors are Input errors naming the line.
Body parse(const std::vector<Token>& tokens);

}  // namespace r1::tmpl
