// A small parser for the LaTeX-ish math that appears in final answers (\boxed{...} contents), and
// the answer structures around it: tuples and intervals, sets, unions of intervals, matrices,
// equations, comma lists and \pm. The input is expected to be normalized first
// (math_normalize.h); the output is an AST that math_equiv.h compares.
//
// Grammar of a scalar expression (implicit multiplication binds like '*'):
//   expr    := term (('+' | '-' | '\pm' | '\mp') term)*
//   term    := unary (('*' | '\cdot' | '\times' | '/' | '\div')? unary)*
//   unary   := ('-' | '+') unary | power
//   power   := postfix ('^' exponent)?          right-associative; exponent is a {group}, a
//                                               digit run, a letter or a command
//   postfix := primary ('!' | '%')*
//   primary := number | number'_'base | letter('_'sub)? | \greek | \pi | \infty | i (imaginary)
//            | ( expr ) | [ expr ] | { expr } | |expr| | \frac{a}{b} | \frac12 | \sqrt[n]{a}
//            | \binom{n}{k} | func arg | \begin{pmatrix} ... \end{pmatrix}
// A multi-letter run of plain letters is a product of single-letter variables, except the known
// function names (sin, cos, tan, cot, sec, csc, log, ln, exp, sqrt). "e" is a variable, not
// Euler's number; "i" is the imaginary unit. An integer directly followed by \frac{int}{int} is a
// mixed number (1\frac{4}{5} = 9/5), as in MATH's answers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::eval {

struct MathNode {
  enum class Kind {
    Number,     // text: the literal ("0.15", "1.2e5"); exact when it has a finite decimal form
    Var,        // text: the name ("x", "x_1", "\theta", "204_5")
    Pi,         // pi
    Imag,       // the imaginary unit
    Infinity,   // +infinity
    Add,        // kids[0] + kids[1]
    Sub,        // kids[0] - kids[1]
    PlusMinus,  // kids[0] \pm kids[1] (text "-" for \mp); expanded into two answers before use
    Mul,        // kids[0] * kids[1]
    Div,        // kids[0] / kids[1]
    Pow,        // kids[0] ^ kids[1]
    Neg,        // -kids[0]
    Func,       // text: function name (sin, cos, ..., sqrt, abs, fact, binom, root); kids: args
    Percent,    // kids[0] followed by a percent sign
    // Answer structures (never inside a scalar expression):
    Tuple,   // kids: elements; open/close: the brackets, e.g. '(' and ']' for a half-open interval
    Set,     // \{a, b\}: kids compared order-free
    List,    // a bare "a, b, c": order-free against sets and lists, ordered against a tuple
    Union,   // kids: intervals joined by \cup, compared order-free
    Matrix,  // kids: rows (each a Tuple with open '[')
    Relation,  // kids: the sides of "a = b", "a < b \le c"; text: the relation after each side
               // but the last, one character each: = < > l (\le) g (\ge) n (\ne)
    Text,      // text: an answer that is not parsed as math (words, inequalities, parse failures)
  };
  Kind kind = Kind::Text;
  std::string text;
  std::vector<MathNode> kids;
  char open = 0, close = 0;
};

// Parses a scalar expression; nullopt when the text is not one (the caller then compares text).
std::optional<MathNode> parse_math_expr(std::string_view text);

// Parses a normalized answer into its structure (see MathNode::Kind; math_structure.cc). Never
// fails: what does not parse becomes a Text node holding the normalized text.
MathNode parse_math_answer(std::string_view normalized);

// The interval a one-variable relation describes: "x < 3" -> (-inf, 3), "1 < x \le 2" -> (1, 2],
// "1 \le |z| \le 2" -> [-2, -1] U [1, 2]. The variable may be any name ("f(x)", "a_1"); the
// bounds must be free of variables. nullopt for anything else (equations, two variables, \ne).
std::optional<MathNode> relation_as_set(const MathNode& relation);

// Whether the node is an answer structure (tuple, set, list, union, matrix, relation) or text,
// rather than a scalar expression.
bool is_structure(const MathNode& n);

// Whether every leaf of the node is a name (a variable, a subscripted name, a tuple of names,
// f(x), |AB|, A:B): the node names a value rather than computing one.
bool names_only(const MathNode& n);

// Replaces each PlusMinus by its two expansions: a \pm b -> {a + b, a - b}.
std::vector<MathNode> expand_plus_minus(const MathNode& node);

// A readable rendering of a node, for tests and debugging.
std::string to_string(const MathNode& node);

}  // namespace r1::eval
