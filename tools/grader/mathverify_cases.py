#!/usr/bin/env python3
"""Builds the grader agreement table from Math-Verify's own test suite.

Math-Verify (https://github.com/huggingface/Math-Verify, Apache-2.0) states its expected verdicts
as pytest parameter lists: (gold, prediction, expected) plus per-test settings (which extractors
run, the float precision, strictness). This script reads those lists with Python's ast module
(nothing of Math-Verify is imported or run) and writes one JSON object per case:

  {"id": "test_all.py:test_relations_math:12", "gold": ..., "pred": ..., "expected": 0|1,
   "match_types": ["latex", "expr"], "precision": 6, "strict": true,
   "allow_set_relation_comp": false}

Usage:
  python3 tools/grader/mathverify_cases.py MATH_VERIFY_DIR [--rev REV] \
      > tests/fixtures/grader/mathverify_cases.jsonl

MATH_VERIFY_DIR is a checkout (a folder with tests/) or a bare git directory (read at --rev,
default HEAD). Tests that do not compare a gold with a prediction (string extraction, config and
timeout tests) are skipped; the skipped ones are named on stderr.
"""
import argparse
import ast
import json
import math
import os
import subprocess
import sys

# The defaults of Math-Verify's compare_strings helper (tests/test_all.py) and of verify().
DEFAULTS = {"match_types": ["latex", "expr"], "precision": 6, "strict": True,
            "allow_set_relation_comp": False}
GOLD_NAMES = ("gold",)
PRED_NAMES = ("pred",)
EXPECTED_NAMES = ("expected", "result")


def read_tests(root, rev):
    """Yields (file name, source) for each tests/*.py."""
    if os.path.isdir(os.path.join(root, "tests")):
        for name in sorted(os.listdir(os.path.join(root, "tests"))):
            if name.endswith(".py"):
                with open(os.path.join(root, "tests", name), encoding="utf-8") as f:
                    yield name, f.read()
        return
    git = ["git", "--git-dir", root]
    names = subprocess.run(git + ["ls-tree", "--name-only", rev, "tests/"], check=True,
                           capture_output=True, text=True).stdout.split()
    for path in sorted(names):
        if path.endswith(".py"):
            src = subprocess.run(git + ["show", f"{rev}:{path}"], check=True,
                                 capture_output=True, text=True).stdout
            yield os.path.basename(path), src


def value(node):
    """Evaluates a literal parameter value; f-strings may use the math module."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        code = compile(ast.Expression(node), "<case>", "eval")
        return eval(code, {"__builtins__": {}, "math": math})  # noqa: S307 (test literals only)


def parametrize_of(func):
    for dec in func.decorator_list:
        if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute)
                and dec.func.attr == "parametrize"):
            names = [n.strip() for n in value(dec.args[0]).split(",")]
            return names, dec.args[1]
    return None


def settings_of(func):
    """The compare_strings keyword arguments used in the body: constants or parameter names."""
    out = dict(DEFAULTS)
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "compare_strings":
            for kw in node.keywords:
                if kw.arg in DEFAULTS:
                    out[kw.arg] = kw.value.id if isinstance(kw.value, ast.Name) else value(kw.value)
    return out


def cases_of(file_name, func):
    p = parametrize_of(func)
    if p is None:
        return None
    names, rows = p
    def pick(options):
        return next((n for n in names if n in options), None)
    g, pr, ex = pick(GOLD_NAMES), pick(PRED_NAMES), pick(EXPECTED_NAMES)
    if not (g and pr and ex):
        return None
    settings = settings_of(func)
    out = []
    for i, row in enumerate(rows.elts):
        vals = dict(zip(names, value(row)))
        case = {"id": f"{file_name}:{func.name}:{i}", "gold": vals[g], "pred": vals[pr],
                "expected": int(vals[ex])}
        for key, v in settings.items():
            case[key] = vals[v] if isinstance(v, str) and v in vals else v
        out.append(case)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--rev", default="HEAD")
    args = ap.parse_args()
    total = 0
    for file_name, src in read_tests(args.root, args.rev):
        for func in ast.parse(src).body:
            if not isinstance(func, ast.FunctionDef) or not func.name.startswith("test_"):
                continue
            cases = cases_of(file_name, func)
            if cases is None:
                print(f"skipped {file_name}:{func.name} (no gold/pred/expected cases)",
                      file=sys.stderr)
                continue
            for c in cases:
                print(json.dumps(c, ensure_ascii=False))
            total += len(cases)
    print(f"{total} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
