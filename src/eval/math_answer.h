// Finding the final answer in a completion, and normalizing LaTeX answers (docs/FACTS.md section
// 7). Extraction (math_extract.cc) learns its rules from Math-Verify's parser; the order (the
// first step that yields an answer wins):
//   1. the reasoning is dropped: only the text after the LAST "</think>" is searched (the whole
//      text when there is no "</think>");
//   2. the LAST \boxed{...} / \fbox{...} / \framebox{...} (nested braces matched; "\boxed 5"
//      also counts; an unclosed box, a truncated answer, is skipped), together with the boxes
//      just before it that belong to the same answer: less than 10 characters apart, or less
//      than 70 apart with ",", ";", "and" or "or" between them ("\boxed{-2} and \boxed{1}").
//      A later "final answer is X. I hope" wins over the boxes;
//   3. the content of the last <answer>...</answer> (the R1-Zero template);
//   4. a value after a phrase, strongest first: "final answer ... is X", "answer: X" (X within
//      50 characters, or after the last '=' within 100), "answer ... X";
//   5. the last math span ($...$, $$...$$, \(...\), \[...\], with the spans joined to it by ",",
//      "and" or "or"), bare \frac{a}{b}, or plain number, whichever ends last. Plain numbers
//      must stand apart ("the 2 of XDY2K" is not one) and are read as Math-Verify reads them:
//      thousands separators "1,234" and "1 234", a decimal comma "1000,99", ".5", a percent
//      word, a currency sign before.
// Several answers are kept as `parts` and joined by ", " in `text` (a list to the comparison).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace r1::eval {

enum class AnswerSource { None, Boxed, AnswerTag, Phrase, MathSpan, LastNumber };
const char* answer_source_name(AnswerSource s);

struct ExtractedAnswer {
  std::string text;  // raw (not normalized); empty when source is None
  AnswerSource source = AnswerSource::None;
  std::vector<std::string> parts;  // the answers found, in order (text joins them)
};

// The text after the last "</think>" (the whole text when there is none).
std::string_view strip_reasoning(std::string_view completion);

// The content of the last closed \boxed / \fbox / \framebox; empty when none.
std::string last_boxed(std::string_view text);

// The last standalone number in the text, canonical ("1,234.5" -> "1234.5"); empty when none.
std::string last_number(std::string_view text);

struct ExtractOptions {
  bool fallbacks = true;      // false: only boxed answers count (step 2's boxes)
  bool latex = true;          // boxes, math spans and bare \frac (Math-Verify's latex target)
  bool plain_numbers = true;  // standalone numbers in the text (Math-Verify's expr target)
};

// Steps 1-5 above.
ExtractedAnswer extract_math_answer(std::string_view completion, const ExtractOptions& options);
inline ExtractedAnswer extract_math_answer(std::string_view completion, bool fallbacks = true) {
  ExtractOptions options;
  options.fallbacks = fallbacks;
  return extract_math_answer(completion, options);
}

// The answer of a gold solution: its boxes (step 2, an unclosed last box taken to the end) when
// it has any, else its last math span group when it has $ or \( \[ delimiters, else the whole
// text (a bare answer such as MATH's "\frac{1}{2}").
ExtractedAnswer gold_math_answer(std::string_view gold);

// LaTeX normalization (docs/FACTS.md section 7): $ and \( \) wrappers, \dfrac/\tfrac -> \frac,
// \left/\right and spacing commands dropped, \text{...} unwrapped (or dropped when it is a unit
// after a number, with a following ^2), bare unit words after a number dropped, degrees and \$
// dropped, thousands separators ("10,\!080", "1,234,567") removed, "x \in" and numeric "x ="
// prefixes dropped, "(B)" -> "B", trailing '.' dropped, whitespace collapsed. A percent sign is
// kept as "%" (the comparison decides what it means). \frac12 and a/b are left to the parser.
std::string normalize_math_answer(std::string_view answer);

}  // namespace r1::eval
