// Procedural arithmetic word problems with R1-style worked solutions: the SFT data and the
// held-out evaluation set of the tiny model r1 trains itself (`r1 tasks arithmetic`).
//
// Kinds: "add" (a + b, operands of 1 to 4 digits), "sub" (a - b, a >= b, up to 4 digits), "mul"
// (up to 3 digits times 1 digit, or 2 digits times 2 digits), "word" (a story about names and
// objects that maps to +, - or x, numbers up to 3 digits).
//
// A solution is "<think>\n" + reasoning lines + "\n</think>\n\n" + "a op b = \boxed{N}". The
// reasoning is made for a 4-layer transformer with a 256-token context: short regular lines, each
// step local, the column method least-significant digit first:
//   4738 + 295                                   (word problems: "buys more means add: 3 + 4")
//   8 + 5 = 13, write 3, carry 1
//   3 + 9 + 1 = 13, write 3, carry 1
//   7 + 2 + 1 = 10, write 0, carry 1
//   4 + 0 + 1 = 5, write 5                       (the last column writes its whole sum)
//   So 4738 + 295 = 5033.
// Subtraction adds a borrow to the lower digit ("9 + 1 = 10, 3 < 10, borrow 1, 13 - 10 = 3,
// write 3"); multiplication by one digit multiplies then adds the carry ("4 × 8 = 32, 32 + 5 =
// 37, write 37"); a 2-digit multiplier gives two partial products ("47 × 8 = 376", "47 × 30 =
// 1410") added by columns right after them. Every step is checked with exact integer arithmetic as
// it is written.
//
// Splits by construction: a problem is in the test split iff fnv1a64(canonical) % 10 == 0, where
// the canonical form names the kind, the operation and the operands (sorted for + and x), not the
// wording; so no held-out problem appears in training data whatever the seeds.
//
// Determinism: one splitmix64 stream (fully specified below), integers drawn by rejection, no
// <random> distributions; the same options give the same bytes on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/random.h"

namespace r1::tasks {

enum class ArithKind { Add, Sub, Mul, Word, Neg, Div, Mul3, Expr };
enum class ArithOp { Add, Sub, Mul, Div };
enum class Split { Train, Test };

using r1::fnv1a64;  // core/random.h
using r1::SplitMix64;

struct ArithProblem {
  ArithKind kind = ArithKind::Add;
  ArithOp op = ArithOp::Add;
  int64_t a = 0, b = 0;   // as computed: sub a >= b; mul b has at most as many digits as a
  int64_t answer = 0;     // a op b
  std::string canonical;  // "add:385:47", "word-sub:12:5": kind, op and operands; no wording
  std::string problem;    // the question, without the instruction
  std::string prompt;  // problem + "\n" + eval::kMathInstruction (what `r1 eval --task math` asks)
  std::string solution;  // the assistant reply: "<think>\n...\n</think>\n\n... \boxed{N}"
  std::string
      expression;  // the computation as the solution writes it: "4738 + 295", "(12 + 7) × 3"
};

// add, sub, mul, word, each weight 1 (the default mix).
std::vector<std::pair<ArithKind, int>> all_kinds();
// More of what a person types (select them with --kinds):
//   neg   a - b with a < b (a negative answer): the columns of b - a, then the sign
//   div   exact a ÷ b, a up to 4 digits, b one digit: short division digit by digit
//         ("14 ÷ 4 = 3 remainder 2, write 3"), each step checkable (q × d + r = n, r < d)
//   mul3  up to 3 digits times 2 or 3 digits: a partial product per digit of b, then the sums
//   expr  two or three operations with + - × and parentheses, evaluated step by step
//         ("Step 1: 12 + 7" ... "So 12 + 7 = 19.") with the methods above
// Questions write × as ×, * or x and ÷ as ÷ or / at random, as people type them; solutions always
// use × and ÷.

struct ArithOptions {
  uint64_t seed = 0;
  Split split = Split::Train;
  // Kinds with integer weights; problem i takes its kind from a fixed cycle in which each kind
  // appears `weight` times (so counts are exactly proportional). Default: all four, weight 1.
  std::vector<std::pair<ArithKind, int>> kinds = all_kinds();
  // No two problems with the same canonical form (evaluation sets); a Usage error when the
  // selected kinds cannot supply n distinct problems in the split.
  bool distinct = false;
};

const char* kind_name(ArithKind kind);
// "add,sub,mul,word", each optionally with a weight "word=3"; Usage error on an unknown kind,
// a repeated kind or a weight outside 1..100.
std::vector<std::pair<ArithKind, int>> parse_kinds(const std::string& spec);
Split parse_split(const std::string& name);  // "train" | "test"; Usage error otherwise

Split split_of(std::string_view canonical);  // Test iff fnv1a64(canonical) % 10 == 0

// The problem a op b of this kind, its wording drawn from rng. Preconditions (R1_ASSERT): the
// operands fit the method (sub: a >= b >= 0; mul: b < 10 or both have two digits; word: op and
// operands as generate_arithmetic draws them).
ArithProblem make_arith_problem(ArithKind kind, ArithOp op, int64_t a, int64_t b, SplitMix64& rng);

std::vector<ArithProblem> generate_arithmetic(size_t n, const ArithOptions& options);

// JSONL rows. sft: {"messages": [{"role": "user", "content": prompt}, {"role": "assistant",
// "content": solution}], "answer": "N"}. eval: {"problem", "answer", "unique_id"} (the MATH-500
// format eval::load_math500 reads; unique_id is the canonical form).
std::string sft_row(const ArithProblem& p);
std::string eval_row(const ArithProblem& p);
// text: {"text": "User: PROBLEM. Assistant: ..."} for pretraining a base model on plain text in no
// chat or R1 format: the reply is the worked column method ending "So a op b = N." when `worked`,
// else just "a op b = N.".
// With `r1_zero_template` the text opens with R1-Zero's prompt (eval::r1_zero_prompt) around the
// question, so that a base model has seen that preamble before RL asks with it; the reply is the
// same plain text (no <think> or <answer> tags).
std::string text_row(const ArithProblem& p, bool worked, bool r1_zero_template = false);

// A rough token count for a byte-level BPE that keeps digits apart: each digit, each run of
// letters and each other non-space character counts one.
size_t approx_tokens(std::string_view text);

}  // namespace r1::tasks
