// tasks/arithmetic: every written step is true, the boxed answer is exact and grades correct, the
// splits never overlap, the output is deterministic, and the committed held-out set is what the
// generator makes.
//
// tests/fixtures/arith/heldout-500.jsonl was made by
//   r1 tasks arithmetic --split test --format eval --n 500 --seed 20260101 --out FILE
// with FILE = tests/fixtures/arith/heldout-500.jsonl
// (kHeldoutSeed below); HeldoutFixtureIsRegenerated fails if the generator's output changes.
#include "tasks/arithmetic.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../cli/cli_run.h"
#include "core/error.h"
#include "eval/loaders.h"
#include "eval/math_answer.h"
#include "eval/verifier.h"

namespace r1::tasks {
namespace {

constexpr uint64_t kHeldoutSeed = 20260101;
const std::string kHeldoutPath =
    std::string(R1_SOURCE_DIR) + "/tests/fixtures/arith/heldout-500.jsonl";

ArithOptions options_for(uint64_t seed, Split split, bool distinct = false) {
  ArithOptions o;
  o.seed = seed;
  o.split = split;
  o.distinct = distinct;
  return o;
}

std::vector<std::string> split_on(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = text.find(sep, start);
    out.push_back(text.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + sep.size();
  }
}

bool is_number(const std::string& w) {
  const size_t start = !w.empty() && w[0] == '-' ? 1 : 0;
  if (w.size() == start) return false;
  for (size_t i = start; i < w.size(); ++i)
    if (w[i] < '0' || w[i] > '9') return false;
  return true;
}

// Evaluates an expression of non-negative integers with + - × ÷ (× and ÷ bind tighter; ÷ must
// be exact) and parentheses, words separated by single spaces as the solutions write them
// ("(12 + 7) × 3 - 4"); false when the text is not one.
class Expr {
 public:
  explicit Expr(const std::string& text) {
    for (const std::string& w : split_on(text, " ")) {
      std::string rest = w;
      while (!rest.empty() && rest[0] == '(') tokens_.push_back("("), rest.erase(0, 1);
      size_t close = 0;
      while (!rest.empty() && rest.back() == ')') ++close, rest.pop_back();
      if (!rest.empty()) tokens_.push_back(rest);
      for (size_t k = 0; k < close; ++k) tokens_.push_back(")");
    }
  }
  bool value(int64_t* v) { return sum(v) && pos_ == tokens_.size(); }

 private:
  bool sum(int64_t* v) {
    if (!product(v)) return false;
    while (pos_ < tokens_.size() && (tokens_[pos_] == "+" || tokens_[pos_] == "-")) {
      const bool plus = tokens_[pos_++] == "+";
      int64_t r;
      if (!product(&r)) return false;
      *v = plus ? *v + r : *v - r;
    }
    return true;
  }
  bool product(int64_t* v) {
    if (!atom(v)) return false;
    while (pos_ < tokens_.size() && (tokens_[pos_] == "×" || tokens_[pos_] == "÷")) {
      const bool times = tokens_[pos_++] == "×";
      int64_t r;
      if (!atom(&r)) return false;
      if (!times && (r == 0 || *v % r != 0)) return false;
      *v = times ? *v * r : *v / r;
    }
    return true;
  }
  bool atom(int64_t* v) {
    if (pos_ >= tokens_.size()) return false;
    if (tokens_[pos_] == "(") {
      ++pos_;
      if (!sum(v) || pos_ >= tokens_.size() || tokens_[pos_] != ")") return false;
      ++pos_;
      return true;
    }
    if (!is_number(tokens_[pos_]) || tokens_[pos_][0] == '-') return false;
    *v = std::stoll(tokens_[pos_++]);
    return true;
  }
  std::vector<std::string> tokens_;
  size_t pos_ = 0;
};

bool evaluate(const std::string& text, int64_t* value) {
  return Expr(text).value(value);
}

std::string reasoning_of(const std::string& solution) {
  EXPECT_EQ(solution.rfind("<think>\n", 0), 0u) << solution;
  const size_t end = solution.find("\n</think>\n\n");
  EXPECT_NE(end, std::string::npos) << solution;
  return solution.substr(8, end - 8);
}

// Checks every line of the reasoning: each ", "-separated segment is an equation that holds, a
// comparison that holds, a division step "n ÷ d = q remainder r" that holds, "write N", "carry
// N", "borrow 1", "swap: EXPR" or an expression (a restatement); a line may open with "Step K: "
// and lines that open with "So " end with "." and state an equation; the first line of a word
// problem is "CUE means OP: a op b"; the last line states the answer. Returns the number of
// equations.
int check_reasoning(const ArithProblem& p) {
  const std::vector<std::string> lines = split_on(reasoning_of(p.solution), "\n");
  int equations = 0;
  for (size_t li = 0; li < lines.size(); ++li) {
    std::string line = lines[li];
    if (li == 0 && p.kind == ArithKind::Word) {
      const size_t colon = line.find(": ");
      EXPECT_NE(colon, std::string::npos) << line;
      const std::string cue = line.substr(0, colon);
      const char* op_word = p.op == ArithOp::Add   ? " means add"
                            : p.op == ArithOp::Sub ? " means subtract"
                                                   : " means multiply";
      EXPECT_TRUE(
          cue.size() > std::string(op_word).size() &&
          cue.compare(cue.size() - std::string(op_word).size(), std::string::npos, op_word) == 0)
          << line;
      line = line.substr(colon + 2);
    }
    if (li + 1 == lines.size()) {
      const std::string expected_tail = " = " + std::to_string(p.answer) + ".";
      EXPECT_TRUE(line.rfind("So ", 0) == 0 && line.ends_with(expected_tail)) << line;
    }
    if (line.rfind("Step ", 0) == 0) line = line.substr(line.find(": ") + 2);
    if (line.rfind("So ", 0) == 0) {
      EXPECT_EQ(line.back(), '.') << line;
      line = line.substr(3, line.size() - 4);
    }
    for (const std::string& seg : split_on(line, ", ")) {
      int64_t lhs = 0, rhs = 0;
      if (seg.find(" remainder ") != std::string::npos) {
        // n ÷ d = q remainder r
        const std::vector<std::string> w = split_on(seg, " ");
        if (w.size() != 7 || w[1] != "÷" || w[3] != "=" || w[5] != "remainder") {
          ADD_FAILURE() << "malformed division step '" << seg << "'";
          continue;
        }
        const int64_t n = std::stoll(w[0]), d = std::stoll(w[2]), q = std::stoll(w[4]),
                      r = std::stoll(w[6]);
        EXPECT_TRUE(q * d + r == n && r >= 0 && r < d) << seg;
        ++equations;
      } else if (seg.find(" = ") != std::string::npos) {
        const std::vector<std::string> sides = split_on(seg, " = ");
        if (sides.size() != 2 || !evaluate(sides[0], &lhs) || !is_number(sides[1])) {
          ADD_FAILURE() << "malformed equation '" << seg << "'";
          continue;
        }
        rhs = std::stoll(sides[1]);
        EXPECT_EQ(lhs, rhs) << "false step '" << seg << "' in\n" << p.solution;
        ++equations;
      } else if (seg.find(" < ") != std::string::npos) {
        const std::vector<std::string> sides = split_on(seg, " < ");
        if (sides.size() != 2 || !is_number(sides[0]) || !is_number(sides[1])) {
          ADD_FAILURE() << "malformed comparison '" << seg << "'";
          continue;
        }
        EXPECT_LT(std::stoll(sides[0]), std::stoll(sides[1])) << seg;
      } else if (seg.rfind("write ", 0) == 0 || seg.rfind("carry ", 0) == 0) {
        EXPECT_TRUE(is_number(seg.substr(6))) << seg;
      } else if (seg.rfind("swap: ", 0) == 0) {
        EXPECT_TRUE(evaluate(seg.substr(6), &lhs)) << seg;
      } else if (seg != "borrow 1") {
        EXPECT_TRUE(evaluate(seg, &lhs)) << "unexpected segment '" << seg << "'";
      }
    }
  }
  return equations;
}

int64_t exact(const ArithProblem& p) {
  if (p.kind == ArithKind::Expr) {
    int64_t v = -1;
    EXPECT_TRUE(evaluate(p.expression, &v)) << p.expression;
    return v;
  }
  switch (p.op) {
    case ArithOp::Add:
      return p.a + p.b;
    case ArithOp::Sub:
      return p.a - p.b;
    case ArithOp::Mul:
      return p.a * p.b;
    case ArithOp::Div:
      return p.a / p.b;
  }
  return -1;
}

std::vector<ArithProblem> sample_all(uint64_t seed, size_t n) {
  auto out = generate_arithmetic(n, options_for(seed, Split::Train));
  auto test = generate_arithmetic(n / 4, options_for(seed, Split::Test));
  out.insert(out.end(), test.begin(), test.end());
  return out;
}

TEST(SplitMix64, KnownOutputsAndUniformRange) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);  // the published splitmix64 sequence for seed 0
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ULL);
  SplitMix64 r(7);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 7000; ++i) {
    const int64_t v = r.uniform(3, 9);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 9);
    ++counts[v];
  }
  EXPECT_EQ(counts.size(), 7u);
  for (const auto& [v, c] : counts) EXPECT_GT(c, 800) << v;
}

TEST(Arithmetic, FnvAndSplit) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  int test = 0;
  for (int a = 0; a < 2000; ++a)
    if (split_of("add:" + std::to_string(a) + ":7") == Split::Test) ++test;
  EXPECT_GT(test, 140);  // about one in ten
  EXPECT_LT(test, 260);
}

TEST(Arithmetic, EdgeCasesAreWorkedCorrectly) {
  SplitMix64 rng(1);
  const struct {
    ArithKind kind;
    ArithOp op;
    int64_t a, b;
  } cases[] = {
      {ArithKind::Add, ArithOp::Add, 9999, 9999}, {ArithKind::Add, ArithOp::Add, 1, 9999},
      {ArithKind::Add, ArithOp::Add, 5, 5},       {ArithKind::Sub, ArithOp::Sub, 1000, 1},
      {ArithKind::Sub, ArithOp::Sub, 1000, 999},  {ArithKind::Sub, ArithOp::Sub, 5, 5},
      {ArithKind::Sub, ArithOp::Sub, 9090, 909},  {ArithKind::Mul, ArithOp::Mul, 999, 9},
      {ArithKind::Mul, ArithOp::Mul, 99, 99},     {ArithKind::Mul, ArithOp::Mul, 47, 40},
      {ArithKind::Mul, ArithOp::Mul, 10, 10},     {ArithKind::Mul, ArithOp::Mul, 7, 8},
      {ArithKind::Word, ArithOp::Sub, 12, 12},    {ArithKind::Word, ArithOp::Mul, 120, 6},
  };
  for (const auto& c : cases) {
    const ArithProblem p = make_arith_problem(c.kind, c.op, c.a, c.b, rng);
    EXPECT_EQ(p.answer, exact(p));
    EXPECT_EQ(eval::last_boxed(p.solution), std::to_string(p.answer)) << p.solution;
    EXPECT_GT(check_reasoning(p), 0);
  }
  // Operands the methods do not cover are refused, not miscomputed.
  EXPECT_THROW(make_arith_problem(ArithKind::Sub, ArithOp::Sub, 3, 5, rng), Error);
  EXPECT_THROW(make_arith_problem(ArithKind::Mul, ArithOp::Mul, 123, 45, rng), Error);
}

TEST(Arithmetic, WorkedExample) {
  SplitMix64 rng(3);
  const ArithProblem p = make_arith_problem(ArithKind::Add, ArithOp::Add, 4738, 295, rng);
  EXPECT_EQ(reasoning_of(p.solution),
            "4738 + 295\n"
            "8 + 5 = 13, write 3, carry 1\n"
            "3 + 9 + 1 = 13, write 3, carry 1\n"
            "7 + 2 + 1 = 10, write 0, carry 1\n"
            "4 + 0 + 1 = 5, write 5\n"
            "So 4738 + 295 = 5033.");
  EXPECT_EQ(p.solution.substr(p.solution.find("</think>")),
            "</think>\n\n4738 + 295 = \\boxed{5033}");
  EXPECT_EQ(p.prompt, p.problem + "\n" + eval::kMathInstruction);
}

TEST(Arithmetic, EveryStepIsTrueAndBoxedAnswerIsExact) {
  std::map<ArithKind, int> kinds;
  for (const ArithProblem& p : sample_all(11, 4000)) {
    ++kinds[p.kind];
    EXPECT_EQ(p.answer, exact(p));
    EXPECT_EQ(eval::last_boxed(p.solution), std::to_string(exact(p))) << p.solution;
    EXPECT_GT(check_reasoning(p), 0);
    EXPECT_EQ(p.prompt, p.problem + "\n" + eval::kMathInstruction);
    EXPECT_EQ(p.problem.find('\n'), std::string::npos);
  }
  EXPECT_EQ(kinds.size(), 4u);
}

// The kinds of what people type: every step true, the answer exact, every way of writing an
// operator used, and the shapes the kinds promise.
TEST(Arithmetic, MoreKinds) {
  ArithOptions o = options_for(9, Split::Train);
  o.kinds = parse_kinds("neg,div,mul3,expr");
  std::map<ArithKind, int> kinds;
  std::set<std::string> symbols;
  for (const ArithProblem& p : generate_arithmetic(2000, o)) {
    ++kinds[p.kind];
    EXPECT_EQ(p.answer, exact(p)) << p.expression;
    EXPECT_EQ(eval::last_boxed(p.solution), std::to_string(p.answer)) << p.solution;
    EXPECT_GT(check_reasoning(p), 0) << p.solution;
    for (const char* sym : {"×", "*", " x ", "÷", "/"})
      if (p.problem.find(sym) != std::string::npos) symbols.insert(sym);
    switch (p.kind) {
      case ArithKind::Neg:
        EXPECT_LT(p.answer, 0);
        break;
      case ArithKind::Div:
        EXPECT_TRUE(p.b >= 2 && p.b <= 9 && p.a % p.b == 0 && p.a <= 9999);
        break;
      case ArithKind::Mul3:
        EXPECT_TRUE(p.a >= 10 && p.a <= 999 && p.b >= 10 && p.b <= 999);
        break;
      case ArithKind::Expr:
        EXPECT_GE(p.answer, 0);
        EXPECT_NE(p.solution.find("Step 2: "), std::string::npos);
        break;
      default:
        ADD_FAILURE() << kind_name(p.kind);
    }
  }
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_EQ(symbols.size(), 5u);
  // The questions of the issue, as a person types them, are problems of these kinds.
  SplitMix64 rng(1);
  const ArithProblem m = make_arith_problem(ArithKind::Mul3, ArithOp::Mul, 733, 87, rng);
  EXPECT_EQ(m.answer, 63771);
  EXPECT_GT(check_reasoning(m), 0);
  const ArithProblem n = make_arith_problem(ArithKind::Neg, ArithOp::Sub, 95, 187, rng);
  EXPECT_EQ(n.answer, -92);
  EXPECT_EQ(eval::last_boxed(n.solution), "-92");
}

TEST(Arithmetic, OperandRanges) {
  std::set<std::string> shapes;
  for (const ArithProblem& p : sample_all(5, 8000)) {
    EXPECT_GE(p.a, 0);
    EXPECT_GE(p.b, 0);
    switch (p.kind) {
      case ArithKind::Add:
      case ArithKind::Sub:
        EXPECT_LE(p.a, 9999);
        EXPECT_LE(p.b, 9999);
        break;
      case ArithKind::Mul:
        EXPECT_TRUE((p.a <= 999 && p.b <= 9) || (p.a >= 10 && p.a <= 99 && p.b >= 10 && p.b <= 99));
        break;
      case ArithKind::Word:
        EXPECT_GE(p.a, 2);
        EXPECT_GE(p.b, 2);
        EXPECT_LE(p.a, 999);
        EXPECT_LE(p.b, 999);
        break;
      default:
        ADD_FAILURE() << "the default mix has only add, sub, mul and word";
    }
    if (p.op == ArithOp::Sub) {
      EXPECT_GE(p.a, p.b);
    }
    shapes.insert(std::string(kind_name(p.kind)) + std::to_string(std::to_string(p.a).size()) +
                  std::to_string(std::to_string(p.b).size()));
  }
  for (const char* s : {"add44", "add14", "add41", "sub44", "sub41", "mul31", "mul22", "word33"})
    EXPECT_TRUE(shapes.count(s)) << s;
}

TEST(Arithmetic, Deterministic) {
  const auto a = generate_arithmetic(300, options_for(42, Split::Train));
  const auto b = generate_arithmetic(300, options_for(42, Split::Train));
  const auto c = generate_arithmetic(300, options_for(43, Split::Train));
  std::string ra, rb, rc;
  for (const auto& p : a) ra += sft_row(p);
  for (const auto& p : b) rb += sft_row(p);
  for (const auto& p : c) rc += sft_row(p);
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
  // A longer run starts with the shorter one.
  const auto longer = generate_arithmetic(600, options_for(42, Split::Train));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(sft_row(longer[i]), sft_row(a[i]));
}

TEST(Arithmetic, SplitsAreDisjointWhateverTheSeeds) {
  std::set<std::string> train, test;
  for (uint64_t seed : {0ULL, 1ULL, 99ULL}) {
    for (const auto& p : generate_arithmetic(3000, options_for(seed, Split::Train))) {
      EXPECT_EQ(split_of(p.canonical), Split::Train);
      train.insert(p.canonical);
    }
    for (const auto& p : generate_arithmetic(1000, options_for(seed + 7, Split::Test))) {
      EXPECT_EQ(split_of(p.canonical), Split::Test);
      test.insert(p.canonical);
    }
  }
  for (const auto& c : test) EXPECT_FALSE(train.count(c)) << c;
  // The canonical form ignores operand order for + and ×, and wording.
  SplitMix64 rng(0);
  EXPECT_EQ(make_arith_problem(ArithKind::Add, ArithOp::Add, 47, 385, rng).canonical,
            make_arith_problem(ArithKind::Add, ArithOp::Add, 385, 47, rng).canonical);
  EXPECT_EQ(make_arith_problem(ArithKind::Mul, ArithOp::Mul, 47, 38, rng).canonical,
            make_arith_problem(ArithKind::Mul, ArithOp::Mul, 38, 47, rng).canonical);
  EXPECT_EQ(make_arith_problem(ArithKind::Word, ArithOp::Add, 3, 4, rng).canonical,
            make_arith_problem(ArithKind::Word, ArithOp::Add, 3, 4, rng).canonical);
}

TEST(Arithmetic, AnswersGradeWithTheMathVerifier) {
  const auto verifier = eval::make_verifier("math");
  for (const ArithProblem& p : sample_all(21, 400)) {
    eval::Problem problem;
    problem.task = "math";
    problem.prompt = p.prompt;
    problem.answer = std::to_string(p.answer);
    EXPECT_TRUE(verifier->evaluate(problem, p.solution).correct) << p.solution;
    // As the trainer sees it: the template already ends with "<think>\n".
    EXPECT_TRUE(verifier->evaluate(problem, p.solution.substr(8)).correct);
    problem.answer = std::to_string(p.answer + 1);
    EXPECT_FALSE(verifier->evaluate(problem, p.solution).correct) << p.solution;
  }
}

TEST(Arithmetic, ReasoningFitsATinyContext) {
  size_t longest = 0, longest_total = 0, sum = 0, count = 0;
  std::map<std::string, size_t> longest_by_kind;
  for (const ArithProblem& p : sample_all(31, 8000)) {
    const size_t r = approx_tokens(reasoning_of(p.solution));
    const size_t total = approx_tokens(p.prompt) + approx_tokens(p.solution);
    longest = std::max(longest, r);
    longest_total = std::max(longest_total, total);
    size_t& k = longest_by_kind[kind_name(p.kind)];
    k = std::max(k, r);
    sum += r;
    ++count;
  }
  std::printf("reasoning approx tokens: mean %.1f, max %zu; prompt + reply max %zu\n",
              static_cast<double>(sum) / static_cast<double>(count), longest, longest_total);
  for (const auto& [kind, n] : longest_by_kind) std::printf("  max %s: %zu\n", kind.c_str(), n);
  // 2-digit × 2-digit products are the longest (about 150); plain sums stay under 90.
  EXPECT_LE(longest_by_kind["add"], 90u);
  EXPECT_LE(longest, 160u);
  EXPECT_LE(static_cast<double>(sum) / static_cast<double>(count), 80.0);
  EXPECT_LE(longest_total, 240u);  // the model's context is 256 tokens
}

TEST(Arithmetic, ParseKindsAndSplit) {
  auto k = parse_kinds("add,word=3");
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0].first, ArithKind::Add);
  EXPECT_EQ(k[0].second, 1);
  EXPECT_EQ(k[1].first, ArithKind::Word);
  EXPECT_EQ(k[1].second, 3);
  for (const char* bad : {"", "add,", "add,add", "mod", "add=0", "add=x", "add=101", "Add"})
    EXPECT_THROW(parse_kinds(bad), Error) << bad;
  EXPECT_EQ(parse_split("train"), Split::Train);
  EXPECT_EQ(parse_split("test"), Split::Test);
  EXPECT_THROW(parse_split("dev"), Error);
}

TEST(Arithmetic, WeightsGiveExactProportions) {
  ArithOptions o = options_for(2, Split::Train);
  o.kinds = parse_kinds("add=3,mul");
  std::map<ArithKind, int> counts;
  for (const auto& p : generate_arithmetic(400, o)) ++counts[p.kind];
  EXPECT_EQ(counts[ArithKind::Add], 300);
  EXPECT_EQ(counts[ArithKind::Mul], 100);
}

TEST(Arithmetic, DistinctRunsOutWithAClearError) {
  ArithOptions o = options_for(2, Split::Test, /*distinct=*/true);
  o.kinds = parse_kinds("mul");
  try {
    generate_arithmetic(5000, o);  // the test split holds about 1,200 multiplications
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("distinct mul"), std::string::npos) << e.what();
  }
}

TEST(Arithmetic, HeldoutFixtureIsRegenerated) {
  const auto problems =
      generate_arithmetic(500, options_for(kHeldoutSeed, Split::Test, /*distinct=*/true));
  std::string expected;
  for (const auto& p : problems) expected += eval_row(p);
  std::ifstream in(kHeldoutPath, std::ios::binary);
  ASSERT_TRUE(in) << kHeldoutPath;
  std::ostringstream file;
  file << in.rdbuf();
  EXPECT_EQ(file.str(), expected) << "regenerate with the command at the top of this file";

  // It loads as a MATH-500 set, with the instruction appended as `r1 eval --task math` does.
  const auto loaded = eval::load_math500(kHeldoutPath);
  ASSERT_EQ(loaded.size(), 500u);
  std::map<std::string, int> kinds;
  std::set<std::string> ids;
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].prompt, problems[i].prompt);
    EXPECT_EQ(loaded[i].answer, std::to_string(problems[i].answer));
    EXPECT_EQ(loaded[i].id, problems[i].canonical);
    EXPECT_EQ(split_of(loaded[i].id), Split::Test);
    ids.insert(loaded[i].id);
    ++kinds[kind_name(problems[i].kind)];
  }
  EXPECT_EQ(ids.size(), 500u);  // distinct problems
  for (const char* k : {"add", "sub", "mul", "word"}) EXPECT_EQ(kinds[k], 125) << k;
}

TEST(Arithmetic, Rows) {
  SplitMix64 rng(0);
  const ArithProblem p = make_arith_problem(ArithKind::Mul, ArithOp::Mul, 47, 38, rng);
  const auto sft = nlohmann::json::parse(sft_row(p));
  ASSERT_EQ(sft["messages"].size(), 2u);
  EXPECT_EQ(sft["messages"][0]["role"], "user");
  EXPECT_EQ(sft["messages"][0]["content"], p.prompt);
  EXPECT_EQ(sft["messages"][1]["role"], "assistant");
  EXPECT_EQ(sft["messages"][1]["content"], p.solution);
  EXPECT_EQ(sft["answer"], "1786");
  const auto ev = nlohmann::json::parse(eval_row(p));
  EXPECT_EQ(ev["problem"], p.problem);
  EXPECT_EQ(ev["answer"], "1786");
  EXPECT_EQ(ev["unique_id"], "mul:47:38");
}

// The command, when the binary has been built (test_tasks does not depend on it).
TEST(Arithmetic, Cli) {
  using r1::testing::run_r1;
  const auto ok = run_r1("tasks arithmetic --n 6 --seed 7 --split test --format eval");
  ASSERT_EQ(ok.code, 0) << ok.err;
  std::string expected;
  for (const auto& p : generate_arithmetic(6, options_for(7, Split::Test, true)))
    expected += eval_row(p);
  EXPECT_EQ(ok.out, expected);
  const auto sft = run_r1("tasks arithmetic --n 3 --kinds word");
  ASSERT_EQ(sft.code, 0) << sft.err;
  ArithOptions o = options_for(0, Split::Train);
  o.kinds = parse_kinds("word");
  expected.clear();
  for (const auto& p : generate_arithmetic(3, o)) expected += sft_row(p);
  EXPECT_EQ(sft.out, expected);

  const std::string out = "/tmp/r1_tasks_test_" + std::to_string(::getpid()) + ".jsonl";
  const auto to_file =
      run_r1("tasks arithmetic --n 6 --seed 7 --split test --format eval --out " + out);
  ASSERT_EQ(to_file.code, 0) << to_file.err;
  EXPECT_EQ(r1::testing::slurp_file(out), ok.out);
  std::remove(out.c_str());

  for (const char* bad :
       {"--n 0", "--n x", "--split dev", "--format csv", "--kinds add,mod", "--seed -1",
        "--bogus 1", "extra", "--kinds mul --split test --format eval --n 5000"}) {
    const auto r = run_r1(std::string("tasks arithmetic ") + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << bad;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
}

}  // namespace
}  // namespace r1::tasks
