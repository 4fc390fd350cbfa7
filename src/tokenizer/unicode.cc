#include "tokenizer/unicode.h"

#include <algorithm>
#include <vector>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace r1::tok {

namespace nfc_data {
extern const uint32_t kCombiningClass[];
extern const size_t kCombiningClassSize;
extern const uint32_t kDecompIndex[];
extern const size_t kDecompIndexSize;
extern const uint32_t kDecompPool[];
extern const uint64_t kCompose[];
extern const size_t kComposeSize;
extern const uint32_t kNfcCheck[];
extern const size_t kNfcCheckSize;
}  // namespace nfc_data

uint32_t next_code_point(std::string_view s, size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  uint32_t c = p[0];
  if (c < 0x80) {
    pos += 1;
    return c;
  }
  if (c < 0xE0) {
    pos += 2;
    return ((c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    pos += 3;
    return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  pos += 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

enum class Seq { Valid, Invalid, Incomplete };

// Classifies the sequence starting at s[pos] (Unicode 15, table 3-7 "well-formed UTF-8").
// len receives its length: the whole sequence if valid, the maximal subpart if invalid (>= 1),
// or the bytes available if the text ends inside an otherwise valid sequence.
Seq classify(std::string_view s, size_t pos, size_t& len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char b0 = p[pos];
  if (b0 < 0x80) {
    len = 1;
    return Seq::Valid;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    len = 1;
    return Seq::Invalid;
  }
  for (size_t i = 1; i < need; ++i) {
    if (pos + i >= s.size()) {
      len = i;
      return Seq::Incomplete;
    }
    const unsigned char b = p[pos + i];
    const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      len = i;
      return Seq::Invalid;
    }
  }
  len = need;
  return Seq::Valid;
}

}  // namespace

size_t valid_utf8_prefix(std::string_view s) {
  size_t pos = 0, len = 0;
  while (pos < s.size()) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (classify(s, pos, len) != Seq::Valid) break;
    pos += len;
  }
  return pos;
}

size_t complete_utf8_prefix(std::string_view s) {
  size_t pos = 0, len = 0;
  while (pos < s.size()) {
    const Seq kind = classify(s, pos, len);
    if (kind == Seq::Incomplete) return pos;
    pos += len;  // invalid bytes count as complete: they are final and become U+FFFD
  }
  return pos;
}

std::string repair_utf8(std::string_view s) {
  const size_t valid = valid_utf8_prefix(s);
  if (valid == s.size()) return std::string(s);
  std::string out(s.substr(0, valid));
  size_t pos = valid, len = 0;
  while (pos < s.size()) {
    const Seq kind = classify(s, pos, len);
    if (kind == Seq::Valid) {
      out.append(s.substr(pos, len));
    } else {
      out += "\xEF\xBF\xBD";
    }
    pos += len;
  }
  return out;
}

bool is_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_alphanumeric(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
  // PCRE2 knows the Alphabetic property and the Numeric general categories.
  struct Matcher {
    pcre2_code* code = nullptr;
    Matcher() {
      int err = 0;
      PCRE2_SIZE off = 0;
      const char* pattern = "^[\\p{Alphabetic}\\p{N}]";
      code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    }
  };
  static const Matcher matcher;
  if (matcher.code == nullptr) return false;
  std::string utf8;
  append_utf8(utf8, cp);
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  const int rc = pcre2_match(matcher.code, reinterpret_cast<PCRE2_SPTR>(utf8.data()), utf8.size(),
                             0, 0, md, nullptr);
  pcre2_match_data_free(md);
  return rc > 0;
}

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet alphabet = [] {
    ByteLevelAlphabet a;
    a.char_to_byte.fill(-1);
    // GPT-2: printable Latin-1 bytes map to themselves, the others to 256, 257, ... in order.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? b : next++;
      append_utf8(a.byte_to_utf8[b], cp);
      a.char_to_byte[cp] = static_cast<int16_t>(b);
    }
    return a;
  }();
  return alphabet;
}

// ---- NFC (UAX #15: decompose, order canonically, compose) -------------------------------------

namespace {

constexpr uint32_t kHangulBase = 0xAC00, kHangulCount = 11172;
constexpr uint32_t kJamoL = 0x1100, kJamoV = 0x1161, kJamoT = 0x11A7;
constexpr uint32_t kCountV = 21, kCountT = 28;

uint8_t combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  const uint32_t* t = nfc_data::kCombiningClass;
  size_t lo = 0, hi = nfc_data::kCombiningClassSize;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (t[mid * 3 + 1] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < nfc_data::kCombiningClassSize && t[lo * 3] <= cp) return uint8_t(t[lo * 3 + 2]);
  return 0;
}

bool needs_nfc_check(uint32_t cp) {
  if (cp < 0x300) return false;
  const uint32_t* t = nfc_data::kNfcCheck;
  size_t lo = 0, hi = nfc_data::kNfcCheckSize;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (t[mid * 2 + 1] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < nfc_data::kNfcCheckSize && t[lo * 2] <= cp;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kHangulBase && cp < kHangulBase + kHangulCount) {
    const uint32_t s = cp - kHangulBase;
    out.push_back(kJamoL + s / (kCountV * kCountT));
    out.push_back(kJamoV + (s % (kCountV * kCountT)) / kCountT);
    if (s % kCountT != 0) out.push_back(kJamoT + s % kCountT);
    return;
  }
  const uint32_t* t = nfc_data::kDecompIndex;
  size_t lo = 0, hi = nfc_data::kDecompIndexSize;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (t[mid * 3] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < nfc_data::kDecompIndexSize && t[lo * 3] == cp) {
    const uint32_t* d = nfc_data::kDecompPool + t[lo * 3 + 1];
    out.insert(out.end(), d, d + t[lo * 3 + 2]);
  } else {
    out.push_back(cp);
  }
}

// The primary composite of (a, b), or 0 if none.
uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kJamoL && a < kJamoL + 19 && b >= kJamoV && b < kJamoV + kCountV) {
    return kHangulBase + ((a - kJamoL) * kCountV + (b - kJamoV)) * kCountT;
  }
  if (a >= kHangulBase && a < kHangulBase + kHangulCount && (a - kHangulBase) % kCountT == 0 &&
      b > kJamoT && b < kJamoT + kCountT) {
    return a + (b - kJamoT);
  }
  const uint64_t key = (uint64_t(a) << 32) | b;
  const uint64_t* t = nfc_data::kCompose;
  size_t lo = 0, hi = nfc_data::kComposeSize;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (t[mid * 2] < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < nfc_data::kComposeSize && t[lo * 2] == key ? uint32_t(t[lo * 2 + 1]) : 0;
}

}  // namespace

std::string nfc(std::string_view s) {
  // Fast path: text without any code point that NFC could change is returned as is.
  size_t pos = 0;
  bool maybe_changes = false;
  while (pos < s.size()) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (needs_nfc_check(next_code_point(s, pos))) {
      maybe_changes = true;
      break;
    }
  }
  if (!maybe_changes) return std::string(s);

  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (pos = 0; pos < s.size();) decompose(next_code_point(s, pos), cps);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j, [](uint32_t a, uint32_t b) {
      return combining_class(a) < combining_class(b);
    });
    i = j;
  }
  // Canonical composition. After ordering, a character C is blocked from the last starter S
  // exactly when the character just before C is not S and has class 0 or >= class(C).
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  size_t starter = SIZE_MAX;
  for (const uint32_t c : cps) {
    const uint8_t cc = combining_class(c);
    if (starter != SIZE_MAX) {
      const bool adjacent = out.size() - 1 == starter;
      const uint8_t prev_cc = combining_class(out.back());
      if (adjacent || (prev_cc != 0 && prev_cc < cc)) {
        if (const uint32_t composite = compose_pair(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = out.size();
    out.push_back(c);
  }
  std::string result;
  result.reserve(s.size());
  for (const uint32_t c : out) append_utf8(result, c);
  return result;
}

}  // namespace r1::tok
