#!/usr/bin/env python3
"""Writes a small GGUF file by hand from the published layout (docs/FACTS.md section 8), with no
r1 or llama.cpp code: the seed of the GGUF fuzzer and an independent file for r1's reader test.

  python3 tools/reference/make_gguf_seed.py tests/fuzz/corpus/gguf/seed_small.gguf

Contents: 4 metadata keys (general.architecture "qwen2", general.alignment 32,
tokenizer.ggml.tokens ["a", "b"], qwen2.block_count 1) and two tensors: "t" F32 ne=[2, 1] holding
1.0, 2.0; "q" Q8_0 ne=[32, 1], one block with d = 0.5 (f16) and q = 0..31.
"""
import struct
import sys


def string(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def main(path):
    meta = [("general.architecture", 8, string("qwen2")),
            ("general.alignment", 4, struct.pack("<I", 32)),
            ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + string("a") + string("b")),
            ("qwen2.block_count", 4, struct.pack("<I", 1))]
    tensors = [("t", [2, 1], 0, 8), ("q", [32, 1], 8, 34)]  # name, ne, ggml type, bytes
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, vtype, value in meta:
        out += string(key) + struct.pack("<I", vtype) + value
    offset = 0
    for name, ne, gtype, nbytes in tensors:
        out += string(name) + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gtype, offset)
        offset = (offset + nbytes + 31) // 32 * 32
    out += b"\0" * (-len(out) % 32)
    out += struct.pack("<ff", 1.0, 2.0) + b"\0" * 24
    out += struct.pack("<e", 0.5) + bytes(range(32)) + b"\0" * 30
    with open(path, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv[1])
