#!/usr/bin/python3
"""Writes models/r1-tiny-random/: the bundled default model until a trained one replaces it.

  - config.json, model.safetensors: Qwen2ForCausalLM, hidden 64, 2 layers, 4 heads / 2 kv heads,
    intermediate 176, tied embeddings, f32, random seeded weights (scaled as in make_fixtures.py).
    vocab_size 768 > the tokenizer's 732 ids: like real Qwen checkpoints the embedding has padding
    rows, so a sampler can produce ids that no token names.
  - tokenizer.json: byte-level BPE in the Qwen2 / R1-Distill-Qwen layout:
      base tokens 0..255 = the GPT-2 byte-to-unicode alphabet (in GPT-2's order: printable bytes
      first), then MERGES merges learned here by a plain BPE trainer on the questions of
      data/gsm8k_test.jsonl; pre-tokenizer = Split(the Qwen2 regex, copied from
      r1-distill-qwen's tokenizer.json, Isolated) + ByteLevel(add_prefix_space false, use_regex
      false); no normalizer; ByteLevel decoder; the R1 added tokens with R1-Distill-Qwen's strings
      and special flags; a TemplateProcessing post-processor that prepends BOS.
  - tokenizer_config.json: bos/eos/pad tokens, add_bos_token true, and the R1-Distill chat_template
    copied from the r1-distill-qwen tokenizer (tests/fixtures/tokenizers.tar.xz, unpacked by CMake
    into build/tokenizers).
  - generation_config.json: temperature 0.6, top_p 0.95 (R1 usage recommendations), bos/eos ids.
Then checks the tokenizer with an own pure-Python encoder/decoder (round trips) and writes
tests/fixtures/models/r1-tiny-random-tokenize.jsonl ({"text", "ids"} with ids encoded without
special tokens, i.e. no BOS) for the C++ tokenizer tests.
"""
import json
import os
import sys
import unicodedata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense  # noqa: E402
import make_fixtures  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(REPO, "models", "r1-tiny-random")
TOKENIZE_GOLDEN = os.path.join(REPO, "tests", "fixtures", "models", "r1-tiny-random-tokenize.jsonl")
DISTILL = os.path.join(REPO, "build", "tokenizers", "r1-distill-qwen")
GSM8K = os.path.join(REPO, "data", "gsm8k_test.jsonl")
MERGES = 470
VOCAB_SIZE = 768  # embedding rows (>= 256 + MERGES + added tokens)

# (content, special) in R1-Distill-Qwen's order and with its special flags (tokenizer.json
# added_tokens 151643..151649, without <|EOT|>).
ADDED = [
    ("<｜end▁of▁sentence｜>", True),
    ("<｜User｜>", False),
    ("<｜Assistant｜>", False),
    ("<｜begin▁of▁sentence｜>", True),
    ("<think>", False),
    ("</think>", False),
]
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"


# -- byte level -------------------------------------------------------------------------------
def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map (GPT-2 paper's encoder.py idea): bytes
    that are printable Latin-1 map to themselves, the other 68 to chr(256 + k) in byte order.
    Returned as an ordered list of (byte, char) with the printable ones first, GPT-2's id order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    pairs = [(b, chr(b)) for b in printable]
    k = 0
    for b in range(256):
        if b not in printable:
            pairs.append((b, chr(256 + k)))
            k += 1
    return pairs


BYTE_PAIRS = bytes_to_unicode()
BYTE_TO_CHAR = {b: c for b, c in BYTE_PAIRS}
CHAR_TO_BYTE = {c: b for b, c in BYTE_PAIRS}


# -- the Qwen2 pre-tokenizer regex, by hand (no `regex` module here) --------------------------
# (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def is_space(c):
    return c.isspace()


def is_newline(c):
    return c in "\r\n"


def pretokenize(text):
    pieces = []
    i, n = 0, len(text)
    while i < n:
        j = _match_end(text, i)
        pieces.append(text[i:j])
        i = j
    return pieces


def _match_end(s, i):
    """End of the regex match starting at i (the alternatives in order, as a backtracking
    engine tries them)."""
    n = len(s)
    # 1. contractions, case-insensitive
    if s[i] == "'":
        for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
            if s[i + 1:i + 1 + len(suffix)].lower() == suffix:
                return i + 1 + len(suffix)
    # 2. [^\r\n\p{L}\p{N}]?\p{L}+
    j = i
    if not is_newline(s[j]) and not is_letter(s[j]) and not is_number(s[j]) and j + 1 < n and is_letter(s[j + 1]):
        j += 1
    if is_letter(s[j]):
        while j < n and is_letter(s[j]):
            j += 1
        return j
    # 3. \p{N}
    if is_number(s[i]):
        return i + 1
    # 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    j = i + 1 if s[i] == " " else i

    def other(c):
        return not is_space(c) and not is_letter(c) and not is_number(c)

    if j < n and other(s[j]):
        while j < n and other(s[j]):
            j += 1
        while j < n and is_newline(s[j]):
            j += 1
        return j
    # 5. \s*[\r\n]+  -> through the last newline of the whitespace run
    j = i
    while j < n and is_space(s[j]):
        j += 1
    run_end = j
    last_nl = max((k for k in range(i, run_end) if is_newline(s[k])), default=-1)
    if last_nl >= 0:
        return last_nl + 1
    # 6. \s+(?!\S)  -> the run, minus its last char when a non-space follows
    if run_end - i >= 1 and run_end == n:
        return run_end
    if run_end - i >= 2:
        return run_end - 1
    # 7. \s+
    return run_end


def byte_level(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


# -- BPE training and encoding -----------------------------------------------------------------
def train_bpe(texts, num_merges):
    """Classic BPE (Sennrich et al. 2016): repeatedly merge the most frequent adjacent pair in
    the pre-tokenized, byte-mapped corpus. Ties: the lexicographically smallest pair."""
    word_freq = {}
    for t in texts:
        for piece in pretokenize(t):
            w = tuple(byte_level(piece))
            word_freq[w] = word_freq.get(w, 0) + 1
    words = [[list(w), f] for w, f in word_freq.items()]
    merges = []
    for _ in range(num_merges):
        counts = {}
        for syms, f in words:
            for a, b in zip(syms, syms[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + f
        if not counts:
            break
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for w in words:
            syms = w[0]
            if len(syms) < 2:
                continue
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(a + b)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            w[0] = out
    return merges


class Tokenizer:
    """Pure-Python encoder/decoder of the tokenizer.json written here (an independent check of
    the file, not a general tokenizers implementation)."""

    def __init__(self, tok_json):
        self.vocab = tok_json["model"]["vocab"]
        self.ranks = {tuple(m): r for r, m in enumerate(tok_json["model"]["merges"])}
        self.added = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
        self.special = {t["id"] for t in tok_json["added_tokens"] if t["special"]}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})

    def bpe(self, word):
        syms = list(word)
        while len(syms) > 1:
            ranked = [(self.ranks.get((a, b), None), k) for k, (a, b) in enumerate(zip(syms, syms[1:]))]
            ranked = [(r, k) for r, k in ranked if r is not None]
            if not ranked:
                break
            r = min(ranked)[0]
            a, b = None, None
            for rr, k in ranked:
                if rr == r:
                    a, b = syms[k], syms[k + 1]
                    break
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(a + b)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            syms = out
        return [self.vocab[s] for s in syms]

    def encode(self, text, add_bos=False):
        """Added tokens are matched in the raw text first (leftmost, longest), then each gap is
        pre-tokenized and BPE-encoded."""
        ids = [self.added[BOS]] if add_bos else []
        i = 0
        while i < len(text):
            hits = [(text.find(t, i), -len(t), t) for t in self.added if text.find(t, i) >= 0]
            if hits:
                pos, _, tok = min(hits)
            else:
                pos, tok = len(text), None
            for piece in pretokenize(text[i:pos]):
                ids += self.bpe(byte_level(piece))
            if tok is None:
                break
            ids.append(self.added[tok])
            i = pos + len(tok)
        return ids

    def decode(self, ids, skip_special_tokens=False):
        out, buf = [], []
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.added:
                out.append(bytes(buf).decode("utf-8", errors="replace"))
                buf = []
                if not (skip_special_tokens and i in self.special):
                    out.append(tok)
            else:
                buf += [CHAR_TO_BYTE[c] for c in tok]
        out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)


# -- files --------------------------------------------------------------------------------------
def build_tokenizer_json(merges):
    with open(os.path.join(DISTILL, "tokenizer.json")) as f:
        distill = json.load(f)
    split = distill["pre_tokenizer"]["pretokenizers"][0]
    assert split["type"] == "Split", split
    vocab = {c: i for i, (_, c) in enumerate(BYTE_PAIRS)}
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    added = []
    for k, (content, special) in enumerate(ADDED):
        added.append({"id": len(vocab) + k, "content": content, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": special})
    bos_id = next(t["id"] for t in added if t["content"] == BOS)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split["pattern"]["Regex"]}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def build_tokenizer_config(tok):
    with open(os.path.join(DISTILL, "tokenizer_config.json")) as f:
        distill = json.load(f)
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 4096,
        "tokenizer_class": "LlamaTokenizerFast",
        "added_tokens_decoder": {
            str(t["id"]): {"content": t["content"], "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": t["special"]} for t in tok["added_tokens"]},
        "chat_template": distill["chat_template"],
    }


def check_pretokenizer():
    cases = {
        "Hello world": ["Hello", " world"],
        "I'm 12 years": ["I", "'m", " ", "1", "2", " years"],
        "a  b": ["a", " ", " b"],
        "x\n\ny": ["x", "\n\n", "y"],
        "end.  \n": ["end", ".", "  \n"],
        "$2.50!!\nOK": ["$", "2", ".", "5", "0", "!!\n", "OK"],
        "  lead": [" ", " lead"],
        "tail  ": ["tail", "  "],
        "WE'LL": ["WE", "'LL"],
        "é中文 ok": ["é中文", " ok"],
        "a\t\nb": ["a", "\t\n", "b"],
    }
    for text, want in cases.items():
        got = pretokenize(text)
        assert got == want, (text, got, want)


def main():
    torch.set_num_threads(1)
    check_pretokenizer()
    with open(GSM8K) as f:
        rows = [json.loads(line) for line in f]
    questions = [r["question"] for r in rows]
    merges = train_bpe(questions, MERGES)
    tok_json = build_tokenizer_json(merges)
    n_ids = len(tok_json["model"]["vocab"]) + len(ADDED)
    assert n_ids <= VOCAB_SIZE, n_ids
    ids = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
    bos_id, eos_id = ids[BOS], ids[EOS]

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok_json, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(build_tokenizer_config(tok_json), f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "bos_token_id": bos_id, "eos_token_id": eos_id,
                   "do_sample": True, "temperature": 0.6, "top_p": 0.95}, f, indent=2)
        f.write("\n")

    fx = dict(name="r1-tiny-random", arch="qwen2", dtype="f32", seed=777, hidden=64, layers=2, heads=4,
              kv_heads=2, head_dim=None, inter=176, vocab=VOCAB_SIZE, eps=1e-6, theta=10000.0,
              rope_scaling=None, tied=True, bias=True, shards=1)
    cfg = make_fixtures.make_config(fx)
    cfg.update(bos_token_id=bos_id, eos_token_id=eos_id, max_position_embeddings=4096, use_sliding_window=False)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    make_fixtures.write_checkpoint(OUT, make_fixtures.make_weights(fx), 1)

    # -- checks ----------------------------------------------------------------------------------
    tok = Tokenizer(tok_json)
    texts = questions + [r["answer"] for r in rows] + [
        "", " ", "\n", "  two  spaces\n\n\nand newlines\r\n", "Ünïcödé 中文 😀 emoji", "tab\tsep",
        "<｜User｜>What is 2+2?<｜Assistant｜><think>\nfour</think>4<｜end▁of▁sentence｜>",
    ]
    total_tokens = total_chars = 0
    for t in texts:
        e = tok.encode(t)
        assert tok.decode(e) == t, t
        total_tokens += len(e)
        total_chars += len(t)
    assert tok.encode("hi", add_bos=True)[0] == bos_id
    chat = "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>\n"
    assert tok.decode(tok.encode(chat), skip_special_tokens=True) == "<｜User｜>Hi<｜Assistant｜><think>\n"
    with open(TOKENIZE_GOLDEN, "w", encoding="utf-8") as f:
        for t in texts[:20] + texts[len(questions):len(questions) + 5] + texts[-7:]:
            f.write(json.dumps({"text": t, "ids": tok.encode(t)}, ensure_ascii=False) + "\n")
    model = dense.DenseModel.load(OUT)
    logits = model.forward(tok.encode(questions[0], add_bos=True))
    size = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print(f"{OUT}: {size / 1024:.0f} KiB; {len(merges)} merges, {n_ids} token ids, vocab_size {VOCAB_SIZE}, "
          f"bos {bos_id}, eos {eos_id}; {total_chars / total_tokens:.2f} chars/token on gsm8k; "
          f"round trips ok on {len(texts)} texts; logits std {logits.std():.2f}")


if __name__ == "__main__":
    main()
