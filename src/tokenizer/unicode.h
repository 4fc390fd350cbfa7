// UTF-8 and Unicode helpers for the tokenizer: decoding, invalid-byte repair, the GPT-2 byte-level
// alphabet, White_Space, and NFC normalization (tables generated into nfc_data.cc).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace r1::tok {

// Decodes the code point at s[pos] and advances pos. Precondition: s is valid UTF-8.
uint32_t next_code_point(std::string_view s, size_t& pos);
void append_utf8(std::string& out, uint32_t cp);

// Length of the longest prefix of s that is valid UTF-8.
size_t valid_utf8_prefix(std::string_view s);
// Length of a valid-UTF-8 prefix of s that can be emitted now: everything except a trailing
// sequence that is incomplete but could still become valid with more bytes.
size_t complete_utf8_prefix(std::string_view s);
// s with each maximal invalid subsequence replaced by U+FFFD (Rust String::from_utf8_lossy,
// Python errors="replace").
std::string repair_utf8(std::string_view s);

// Rust char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(uint32_t cp);
// Rust char::is_alphanumeric (Alphabetic or Numeric), used by added tokens' single_word.
bool is_alphanumeric(uint32_t cp);

// GPT-2's byte-level alphabet: every byte maps to one printable code point.
struct ByteLevelAlphabet {
  std::array<std::string, 256> byte_to_utf8;  // byte -> UTF-8 of its code point
  std::array<int16_t, 324> char_to_byte;      // code point (< 324) -> byte, or -1
};
const ByteLevelAlphabet& byte_level_alphabet();

// Unicode Normalization Form C (UAX #15) of valid UTF-8 text.
std::string nfc(std::string_view s);

}  // namespace r1::tok
