#!/usr/bin/python3
"""Goldens for r1's Jinja2 interpreter and chat templates, rendered by Python's jinja2 (Debian's
python3-jinja2) configured as Hugging Face transformers does in apply_chat_template:

- ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
  extensions=[jinja2.ext.loopcontrols]);
- the tojson filter replaced by json.dumps(x, ensure_ascii=False, indent=indent,
  separators=separators, sort_keys=sort_keys) (HF's override: no HTML escaping);
- globals raise_exception(message) and strftime_now(format);
- render(messages=..., tools=... or None, documents=None, add_generation_prompt=...,
  **special_tokens_map) where the special tokens are bos/eos/unk/sep/pad/cls/mask (strings; AddedToken dicts
  give their "content"; None tokens are not passed) and additional_special_tokens.

Inputs (committed): tests/fixtures/template/conversations.json (chat conversations) and
tests/fixtures/template/snippets.json (small templates exercising interpreter features).
Output: tests/fixtures/template/goldens.json with, for every template x conversation x
add_generation_prompt, either {"output": text} or {"error": message} when jinja2 raises, and the
same for every snippet.

Run from anywhere: /usr/bin/python3 tools/reference/chat_goldens.py
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZERS = os.path.join(REPO, "build", "tokenizers")  # unpacked by CMake
FIXTURES = os.path.join(REPO, "tests", "fixtures", "template")
TEMPLATES = ["r1", "r1-distill-qwen", "deepseek-v3", "llama3.1", "qwen2.5"]


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def special_tokens(config):
    out = {}
    for name in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                 "mask_token"]:
        tok = config.get(name)
        if isinstance(tok, dict):
            tok = tok["content"]
        if tok is not None:
            out[name] = tok
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list):
        out["additional_special_tokens"] = [t["content"] if isinstance(t, dict) else t for t in extra]
    return out


def render(env, source, **kwargs):
    try:
        return {"output": env.from_string(source).render(**kwargs)}
    except Exception as e:  # noqa: BLE001 -- any jinja2 failure is a golden "error"
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    env = make_env()
    conversations = json.load(open(os.path.join(FIXTURES, "conversations.json"), encoding="utf-8"))
    snippets = json.load(open(os.path.join(FIXTURES, "snippets.json"), encoding="utf-8"))
    chats = []
    for name in TEMPLATES:
        config = json.load(open(os.path.join(TOKENIZERS, name, "tokenizer_config.json"),
                                encoding="utf-8"))
        specials = special_tokens(config)
        for conv in conversations:
            for gen in [True, False]:
                result = render(env, config["chat_template"], messages=conv["messages"], tools=conv.get("tools"),
                                documents=None, add_generation_prompt=gen, **specials)
                chats.append({"template": name, "conversation": conv["name"],
                              "add_generation_prompt": gen, **result})
    snips = []
    for s in snippets:
        result = render(env, s["template"], **s["vars"])
        snips.append({"name": s["name"], **result})
    out = {"jinja2_version": jinja2.__version__, "chats": chats, "snippets": snips}
    with open(os.path.join(FIXTURES, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum(1 for c in chats if "error" in c) + sum(1 for s in snips if "error" in s)
    print(f"{len(chats)} chat renders, {len(snips)} snippets, {errors} errors -> goldens.json")


if __name__ == "__main__":
    main()
