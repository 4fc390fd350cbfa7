#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/corpus.json: the strings r1's tokenizer is checked on against
the JS oracle (see make_goldens.mjs). Hand-written cases cover scripts, code, whitespace, special
tokens and normalization; a seeded random part mixes fragments of all of them.

Usage: python3 tools/tokenizer_oracle/make_corpus.py > tests/fixtures/tokenizer/corpus.json
"""
import json
import random

cases = [
    "",
    " ",
    "a",
    "\n",
    "Hello world",
    "Hello, world! How are you doing today?",
    " Hello world",
    "  leading and trailing  ",
    "The quick brown fox jumps over the lazy dog.",
    # contractions, both cases
    "I'm sure you'll see they've done what we'd said, isn't it? It's John's.",
    "I'M SURE YOU'LL SEE THEY'VE DONE WHAT WE'D SAID, ISN'T IT? IT'S JOHN'S.",
    "We'Re mixing 'S and 'T and 'Ll and 'vE and 'D and 'm",
    "'s 't 're 've 'm 'll 'd",
    "don't DON'T Don'T dOn't",
    "the letter long s: 'ſ and the Kelvin sign: 'K",
    # whitespace
    "a  b   c    d     e",
    "tab\tseparated\tvalues\t\tdouble",
    "windows\r\nline\r\nendings\r\n",
    "mac\rold\rstyle",
    "blank lines\n\n\n\nafter",
    "trailing spaces   \n   leading spaces",
    "    indented\n        more\n\tand tab",
    " \t \n \r\n \t\t  \n\n ",
    "non\u00a0breaking\u00a0space and ideographic\u3000space",
    "thin\u2009space, en\u2002space, em\u2003space, line\u2028sep, para\u2029sep",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "     ",
    "\t",
    "\r\n",
    "\n\n",
    "x\n",
    # numbers
    "1234567890123456789012345678901234567890",
    "3.14159265358979 2.718281828 1e-10 6.022e23 -42 +7",
    "1,234,567.89 and 1 234 567,89 and 12:34:56 and 2024-01-15",
    "Phone: +1 (555) 123-4567, ZIP 90210",
    "Arabic-Indic digits ٠١٢٣٤٥٦٧٨٩ and Devanagari १२३४ and full width １２３４５",
    "superscripts x² y³ ½ ¾ Ⅻ ⅷ ① ②",
    "0x1F600 0b1010 0o777 1_000_000",
    "v1.2.3-rc.4+build.567",
    # scripts and languages
    "你好，世界！今天天气很好。我们去公园散步吧。",
    "繁體中文：臺灣的資訊科技產業發達。",
    "日本語のテキスト：東京は日本の首都です。ひらがな、カタカナ、漢字が混ざっています。",
    "ｶﾀｶﾅ half width katakana ﾃｽﾄ",
    "한국어 텍스트: 안녕하세요, 만나서 반갑습니다.",
    "العربية: مرحبا بالعالم! كيف حالك اليوم؟",
    "Arabic with diacritics: بِسْمِ ٱللَّٰهِ ٱلرَّحْمَٰنِ ٱلرَّحِيمِ",
    "עברית: שלום עולם, מה שלומך?",
    "हिन्दी: नमस्ते दुनिया! आप कैसे हैं? क़लम ज़रूर",
    "ภาษาไทย: สวัสดีชาวโลก วันนี้อากาศดีมาก",
    "Русский: Привет, мир! Как дела? Ёлка и щётка.",
    "Ελληνικά: Γειά σου Κόσμε! Ἀρχιμήδης",
    "Tiếng Việt: Xin chào thế giới! Tôi yêu tiếng Việt.",
    "Türkçe: İstanbul, ılık, ŞEHİR; Deutsch: Straße, Grüße, ÄÖÜ; Français: garçon, où, çà",
    "தமிழ்: வணக்கம் உலகம்; বাংলা: হ্যালো বিশ্ব; ગુજરાતી: નમસ્તે",
    "ქართული ენა; Հայերեն; አማርኛ; ᚠᚢᚦᚨᚱᚲ; ⠓⠑⠇⠇⠕",
    "Mixed 中文 and English 混合 text with 数字123和符号！",
    "東京タワーは333メートルです。2024年1月15日",
    "Math letters 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 and CJK extension B 𠀀𠀁𪚥",
    # emoji
    "Emoji: 😀😃😄😁 👍🏽 ❤️ 🇺🇸🇯🇵 1️⃣ #️⃣",
    "Family: 👨‍👩‍👧‍👦 and couple 👩‍❤️‍👨 and tech 👩🏾‍💻",
    "🏳️‍🌈🏴‍☠️🧑‍🤝‍🧑",
    "text😀text 😀 text 😀😀😀",
    # code
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\n\nint main(void) {\n\tprintf(\"Hello, %s!\\n\", \"world\");\n\treturn 0;\n}\n",
    "const x = { a: 1, b: [2, 3], c: () => x?.a ?? null }; // comment\n",
    "for (auto& [key, value] : map) { std::cout << key << \"=\" << value << '\\n'; }",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
    "<html><body><div class=\"x\">Hi &amp; bye</div></body></html>",
    "$ ls -la | grep -E '^d' && echo \"done\" > /dev/null 2>&1",
    "{\"key\": \"value\", \"list\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}",
    "regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@[a-z]+\\.[a-z]{2,}$",
    "    x = [i**2 for i in range(10) if i % 2 == 0]\n\n\n    print(x)",
    "fn main() -> Result<(), Box<dyn Error>> {\n    let v: Vec<u8> = vec![0xFF; 16];\n    Ok(())\n}",
    # LaTeX and math
    "$$\\int_0^\\infty e^{-x^2} \\, dx = \\frac{\\sqrt{\\pi}}{2}$$",
    "\\begin{align} a^2 + b^2 &= c^2 \\\\ \\sum_{i=1}^{n} i &= \\frac{n(n+1)}{2} \\end{align}",
    "Let $f: \\mathbb{R} \\to \\mathbb{R}$, $f(x) = \\lim_{h \\to 0} \\frac{g(x+h) - g(x)}{h}$.",
    "∀x ∈ ℝ, ∃y: x² + y² ≥ 0; ∑∫√∞ ≠ ≈ ≤ ≥ ± × ÷ ∂ ∇",
    "\\boxed{42}",
    # punctuation
    "Wait... what?!?! No way!!! ...... ??? !!!",
    "“Smart quotes” and ‘single’ — em dash – en dash … ellipsis «guillemets» „German“",
    "Brackets: ()[]{}<> 【】「」『』《》〈〉",
    "Chinese punctuation：，。！？；、",
    "URL https://example.com/path?query=1&b=2#frag and email user.name+tag@example.co.uk",
    "| col1 | col2 |\n|------|------|\n| a    | b    |",
    "**bold** _italic_ `code` ~~strike~~ > quote\n- item\n1. first",
    "@#$%^&*()_+-=[]{}|;':\",./<>?`~",
    "___ --- *** ===",
    "control chars \x01\x02\x1f\x7f and bell \x07",
    # special tokens in text
    "<｜User｜>What is 2+2?<｜Assistant｜><think>\nThe user asks 2+2.\n</think>\n\nIt is 4.<｜end▁of▁sentence｜>",
    "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>hi<｜Assistant｜>",
    "text <think> with spaces </think> around",
    "<think></think><think></think>",
    "<<think>> <think <think/> </think",
    "<｜User｜ <｜Use <｜ ｜> <｜User｜><｜User｜>",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><|begin_of_text|><|eot_id|><|start_header_id|>user<|end_header_id|>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
    "Answer: \\boxed{5}<｜end▁of▁sentence｜>",
    # normalization (NFD input, compatibility characters)
    "Cafe\u0301 re\u0301sume\u0301 nai\u0308ve",
    "A\u030a vs \u00c5 vs \u212b (angstrom sign)",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af (conjoining jamo)",
    "q\u0307\u0323 and s\u0323\u0307 and \u1e0b\u0323 (reordering)",
    "Vie\u0302\u0323t Nam ti\u00ea\u0301ng Vie\u0323\u0302t",
    "CJK compatibility \uf900\uf901\ufa10 ideographs",
    "\u0915\u093c \u0958 (nukta, composition excluded)",
    "\u0301 leading combining mark and \u0300\u0301\u0302 stack",
    "ﬁ ﬂ ligatures and ｆｕｌｌｗｉｄｔｈ",
    "\u2126 ohm sign and \u03a9 omega",
    "e\u0301\u0301\u0301\u0301\u0301",
    "\u00e9\u0302 \u1ec7\u0300",
]

# Boundaries between character classes.
cases += [
    "abc123def x1y2z3 1st 2nd 3rd 100km 3.5GHz ١٢٣abc",
    "中文123中文,English中文。日本語ABC한국어123",
    "漢字ひらがなカタカナ混在テキストﾊﾝｶｸ",
    "it’s don’t we’re ‘quoted’ 'plain' \"double\"",
    "\r\n\r\n \n\n  \n  x  \n\t\n",
    "end with spaces   ",
    "end with newline and spaces\n   ",
    "a\u00a0\u00a0b \u2003\u2003c",
    "<think>\n\n</think>\n\n",
    "</think>answer after think",
    "emoji😀中文😀English😀123",
    "x" * 3 + " " * 3 + "\t" * 3 + "\n" * 3 + "y",
    # U+180E is not White_Space (since Unicode 6.3) for Oniguruma and JS, but PCRE2's \h has it.
    "a\u180eb c", "x \u180e\u180e y", "a \u180e", "\u180e\u180e",
]

# Long inputs.
cases.append(" ".join(["word"] * 300))
cases.append("a" * 700)
cases.append(" " * 500 + "x" + "\n" * 200)
cases.append("你好世界" * 150)
cases.append("1234567890" * 60)
cases.append(("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12) +
             "日本語も少し。" * 10 + " 😀" * 20)

# Seeded random mixtures of fragments.
fragments = [
    "a", "Z", "é", "e\u0301", "ß", "İ", "ı", "ſ", "K", "Ω", "中", "文", "日本", "カタ", "ｶ", "한",
    "\u1100\u1161", "ع", "ب", "\u064e", "न", "\u093f", "ก", "\u0e31", "Я", "λ", "1", "23", "456", "٣",
    "１", "²", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "'", "'s", "'T", "'ll", "'RE",
    ".", ",", "!", "?", "...", "-", "_", "(", ")", "{", "}", "[", "]", "<", ">", "/", "\\", "\"",
    "#", "$", "%", "&", "*", "+", "=", "@", "^", "`", "|", "~", ";", ":", "，", "。", "！", "「", "」",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "\u200d", "\u200b", "\u0301", "\u0308", "\u0323",
    "<think>", "</think>", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<|im_start|>",
    "<|endoftext|>", "<|eot_id|>", "<｜", "｜>", "<|", "|>", "hello", "World", "THE", "don't", "x=1",
    "def ", "return", "\\frac{", "$$", "http://", "www.", ".com", "0x", "ff", "    ", "\t\t",
]
rng = random.Random(20250101)
for _ in range(260):
    n = rng.randint(1, 24)
    cases.append("".join(rng.choice(fragments) for _ in range(n)))
# Whitespace- and punctuation-heavy mixtures, where the pre-tokenizer regexes differ most.
spacey = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "a", "1", "!", "'s", "中", "<think>", "😀", "\u0301"]
for _ in range(120):
    n = rng.randint(2, 16)
    cases.append("".join(rng.choice(spacey) for _ in range(n)))

json.dump(cases, __import__("sys").stdout, ensure_ascii=False, indent=0)
print()
