// Finding the final answer in a completion, and normalizing LaTeX answers (docs/FACTS.md section
// 7).
//
// Extraction order (the first that yields an answer wins):
//   1. the reasoning is dropped: only the text after the LAST "</think>" is searched (the whole
//      text when there is no "</think>");
//   2. the LAST \boxed{...} / \fbox{...} / \framebox{...} (nested braces matched; "\boxed 5"
//      without braces also counts); an unclosed box (a truncated answer) is skipped;
//   3. the content of the last <answer>...</answer> (the R1-Zero template);
//   4. the text after the last "final answer is" / "final answer:" / "the answer is" up to the
//      end of its line (a $...$ span there is taken whole);
//   5. the last number in the text (integers, decimals, a/b fractions, thousands commas).
#pragma once

#include <string>
#include <string_view>

namespace r1::eval {

enum class AnswerSource { None, Boxed, AnswerTag, Phrase, LastNumber };
const char* answer_source_name(AnswerSource s);

struct ExtractedAnswer {
  std::string text;  // raw (not normalized); empty when source is None
  AnswerSource source = AnswerSource::None;
};

// The text after the last "</think>" (the whole text when there is none).
std::string_view strip_reasoning(std::string_view completion);

// The content of the last \boxed / \fbox / \framebox with balanced braces; empty when none.
std::string last_boxed(std::string_view text);

// The last number in the text ("-1,234.5", "3/4"), commas kept; empty when none.
std::string last_number(std::string_view text);

// Steps 1-5 above. `fallbacks` false stops after step 2 (only boxed answers count).
ExtractedAnswer extract_math_answer(std::string_view completion, bool fallbacks = true);

// LaTeX normalization (docs/FACTS.md section 7): $ and \( \) wrappers, \dfrac/\tfrac -> \frac,
// \left/\right and spacing commands dropped, \text{...} unwrapped (or dropped when it is a unit
// after a number, with a following ^2), bare unit words after a number dropped, degrees and \$
// dropped, thousands separators ("10,\!080", "1,234,567") removed, "x \in" and numeric "x ="
// prefixes dropped, "(B)" -> "B", trailing '.' dropped, whitespace collapsed. A percent sign is
// kept as "%" (the comparison decides what it means). \frac12 and a/b are left to the parser.
std::string normalize_math_answer(std::string_view answer);

}  // namespace r1::eval
