#!/usr/bin/python3
"""Writes tests/fixtures/models/r1-tiny-random-greedy.json: the greedy continuation PyTorch (this
folder's dense.py, the same reference the logit goldens come from) computes for a prompt of the
bundled random model, for the CLI test that `r1 generate --temperature 0` decodes the same tokens.

The prompt ids are BOS followed by the ids the independent Python encoder of make_default_model.py
gave for the text (tests/fixtures/models/r1-tiny-random-tokenize.jsonl), which is what
`r1 generate -p TEXT` encodes (tokenizer_config add_bos_token). Each step's margin (top-1 minus
top-2 logit) is kept so the test can see that no step is a near tie.

Usage (from the repository root): /usr/bin/python3 tools/reference/greedy_golden.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(REPO, "models", "r1-tiny-random")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "models")
TOKENS = 24


def main():
    rows = [json.loads(l) for l in open(os.path.join(FIXTURES, "r1-tiny-random-tokenize.jsonl"))]
    row = rows[1]
    config = json.load(open(os.path.join(MODEL, "config.json")))
    prompt = [config["bos_token_id"]] + row["ids"]
    model = dense.DenseModel.load(MODEL)
    toks, _, margins = dense.greedy(model, prompt, TOKENS)
    out = {"text": row["text"], "prompt_ids": prompt, "greedy": toks, "margins": margins}
    with open(os.path.join(FIXTURES, "r1-tiny-random-greedy.json"), "w") as f:
        f.write(json.dumps(out) + "\n")
    print("greedy", toks, "smallest margin", min(margins))


if __name__ == "__main__":
    main()
