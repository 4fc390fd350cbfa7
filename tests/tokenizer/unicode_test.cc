// UTF-8 repair and NFC, against primary sources: the Unicode Standard's example of U+FFFD
// substitution (chapter 3, "U+FFFD Substitution of Maximal Subparts") and the Unicode Character
// Database's NormalizationTest.txt (a subset committed as tests/fixtures/tokenizer/nfc_cases.txt).
#include <gtest/gtest.h>

#include <sstream>

#include "core/file_util.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace r1::tok {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string from_hex(const std::string& field) {
  std::istringstream in(field);
  std::string out, hex;
  while (in >> hex) append_utf8(out, uint32_t(std::stoul(hex, nullptr, 16)));
  return out;
}

TEST(Utf8, RepairFollowsMaximalSubpartRule) {
  // The Unicode Standard 15.0, section 3.9, table 3-8: <61 F1 80 80 E1 80 C2 62 80 63 80 BF 64>
  // becomes <0061 FFFD FFFD FFFD 0062 FFFD 0063 FFFD FFFD 0064>.
  const std::string bytes = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  EXPECT_EQ(repair_utf8(bytes),
            "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  // Table 3-9..3-11 style: non-shortest forms, surrogates and values past U+10FFFF are invalid
  // byte by byte.
  EXPECT_EQ(repair_utf8("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(repair_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(repair_utf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(repair_utf8("ok \xF0\x9F\x98"), "ok " + kFffd);  // truncated at the end: one U+FFFD
  EXPECT_EQ(repair_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"), "h\xC3\xA9llo \xF0\x9F\x98\x80");
}

TEST(Utf8, CompletePrefixHoldsBackOnlyAnUnfinishedSequence) {
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE4"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);      // never valid: final already
  EXPECT_EQ(complete_utf8_prefix("ab\xE4\x41"), 4u);  // broken already: final
  EXPECT_EQ(valid_utf8_prefix("ab\xE4\x41"), 2u);
}

TEST(Nfc, MatchesUnicodeNormalizationTest) {
  std::istringstream lines(read_file(testing::fixture_path("nfc_cases.txt")));
  std::string line;
  size_t cases = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t a = line.find(';'), b = line.find(';', a + 1);
    const std::string c1 = from_hex(line.substr(0, a)),
                      c2 = from_hex(line.substr(a + 1, b - a - 1)),
                      c3 = from_hex(line.substr(b + 1));
    EXPECT_EQ(nfc(c1), c2) << line;
    EXPECT_EQ(nfc(c2), c2) << line;
    EXPECT_EQ(nfc(c3), c2) << line;
    ++cases;
  }
  EXPECT_GT(cases, 2000u);
}

TEST(Nfc, AsciiAndCjkPassThrough) {
  EXPECT_EQ(nfc("plain ascii\r\n\t"), "plain ascii\r\n\t");
  EXPECT_EQ(nfc("你好，世界"), "你好，世界");
  EXPECT_EQ(nfc(""), "");
}

TEST(ByteLevel, AlphabetIsABijectionOfPrintableCharacters) {
  const ByteLevelAlphabet& a = byte_level_alphabet();
  for (int b = 0; b < 256; ++b) {
    size_t pos = 0;
    const uint32_t cp = next_code_point(a.byte_to_utf8[b], pos);
    ASSERT_LT(cp, a.char_to_byte.size());
    EXPECT_EQ(a.char_to_byte[cp], b);
  }
  // GPT-2's mapping as documented in its encoder.py: space is U+0120 'Ġ', newline U+010A 'Ċ'.
  EXPECT_EQ(a.byte_to_utf8[' '], "\xC4\xA0");
  EXPECT_EQ(a.byte_to_utf8['\n'], "\xC4\x8A");
  EXPECT_EQ(a.byte_to_utf8['A'], "A");
}

TEST(Whitespace, IsRustWhiteSpace) {
  for (uint32_t cp : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2000u, 0x2028u, 0x3000u}) {
    EXPECT_TRUE(is_whitespace(cp)) << cp;
  }
  for (uint32_t cp : {0x41u, 0x200Bu, 0xFEFFu, 0x180Eu}) EXPECT_FALSE(is_whitespace(cp)) << cp;
  EXPECT_TRUE(is_alphanumeric('a'));
  EXPECT_TRUE(is_alphanumeric(0x4E2D));  // 中
  EXPECT_TRUE(is_alphanumeric(0x0663));  // Arabic-Indic digit three
  EXPECT_FALSE(is_alphanumeric('_'));
  EXPECT_FALSE(is_alphanumeric(' '));
}

}  // namespace
}  // namespace r1::tok
