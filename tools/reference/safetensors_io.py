#!/usr/bin/python3
"""Minimal safetensors writer and reader (F32, BF16, F16, F8_E4M3) for the r1 reference scripts.

Format (https://github.com/huggingface/safetensors, README "Format"):
  8 bytes    little-endian u64 N = length of the JSON header
  N bytes    UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}
             padded with spaces so that 8 + N is a multiple of 8
  rest       the tensor bytes, little-endian, row-major; offsets are relative to the start of this
             section, contiguous, with no gaps.
We write tensors in name order. There is no `safetensors` package on this machine, hence this file.

F8_E4M3 (float8_e4m3fn, as in DeepSeek-V3's FP8 checkpoints): torch 1.13 has no float8 dtype, so
such tensors are held as torch.uint8 holding the raw fp8 bytes; a torch.uint8 tensor is written with
dtype "F8_E4M3" and an "F8_E4M3" tensor is read back as torch.uint8. Encoding/decoding the values
is deepseek_v3.py's business (fp8_e4m3_encode / fp8_e4m3_decode).

Two ways to write:
  write_file(path, {name: tensor})                 everything in memory
  StreamingWriter(path, [(name, dtype, shape)])    header first, then tensors one by one, so a
                                                   multi-GB random model never sits in RAM twice.
"""
import json
import struct
import sys

import torch

# dtype name in the header <-> torch dtype, and bytes per element.
DTYPE_TO_NAME = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
                 torch.uint8: "F8_E4M3"}
NAME_TO_DTYPE = {v: k for k, v in DTYPE_TO_NAME.items()}
ITEM_SIZE = {"F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1}

assert sys.byteorder == "little", "the raw-byte paths below assume a little-endian host"


def tensor_bytes(t):
    """Raw little-endian bytes of a contiguous tensor. bf16 goes through int16 because numpy
    has no bfloat16 (same bits, reinterpreted)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    if t.dtype not in DTYPE_TO_NAME:
        raise ValueError(f"unsupported dtype {t.dtype}")
    return t.numpy().tobytes()


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def build_header(entries, metadata=None):
    """entries: list of (name, dtype_name, shape) in file order. Returns (header_bytes, offsets)
    where header_bytes already includes the 8-byte length prefix and padding."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    offsets = {}
    for name, dtype_name, shape in entries:
        nbytes = _numel(shape) * ITEM_SIZE[dtype_name]
        header[name] = {"dtype": dtype_name, "shape": [int(s) for s in shape],
                        "data_offsets": [offset, offset + nbytes]}
        offsets[name] = (offset, offset + nbytes)
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text, offsets


class StreamingWriter:
    """Writes the header up front, then accepts tensors in the declared order."""

    def __init__(self, path, entries, metadata=None):
        self.entries = sorted(entries, key=lambda e: e[0])
        header, self.offsets = build_header(self.entries, metadata)
        self.f = open(path, "wb")
        self.f.write(header)
        self.next_index = 0

    def write(self, name, tensor):
        exp_name, exp_dtype, exp_shape = self.entries[self.next_index]
        if name != exp_name:
            raise ValueError(f"expected tensor {exp_name}, got {name}")
        if DTYPE_TO_NAME[tensor.dtype] != exp_dtype or list(tensor.shape) != list(exp_shape):
            raise ValueError(f"{name}: declared {exp_dtype}{list(exp_shape)}, got {tensor.dtype}{list(tensor.shape)}")
        self.f.write(tensor_bytes(tensor))
        self.next_index += 1

    def names_in_order(self):
        return [e[0] for e in self.entries]

    def close(self):
        if self.next_index != len(self.entries):
            raise ValueError(f"only {self.next_index} of {len(self.entries)} tensors written")
        self.f.close()


def write_file(path, tensors, metadata=None):
    """tensors: {name: torch tensor (F32/BF16/F16)}. Returns bytes of tensor data written."""
    if metadata is None:
        metadata = {"format": "pt"}
    entries = [(n, DTYPE_TO_NAME[t.dtype], list(t.shape)) for n, t in tensors.items()]
    w = StreamingWriter(path, entries, metadata)
    for name in w.names_in_order():
        w.write(name, tensors[name])
    w.close()
    return sum(t.numel() * t.element_size() for t in tensors.values())


def read_file(path):
    """Returns ({name: tensor in stored dtype}, metadata). Checks the invariants our writer
    promises (contiguous offsets, header padding) so it doubles as a format check."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(data)}")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None)
    body = data[8 + n:]
    tensors = {}
    expected = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        if begin != expected:
            raise ValueError(f"{path}: {name} starts at {begin}, expected {expected}")
        dtype = NAME_TO_DTYPE[info["dtype"]]
        count = _numel(info["shape"])
        if end - begin != count * ITEM_SIZE[info["dtype"]] or end > len(body):
            raise ValueError(f"{path}: bad data_offsets for {name}")
        raw = bytearray(body[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if count else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(raw, dtype=dtype) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
        expected = end
    if expected != len(body):
        raise ValueError(f"{path}: {len(body) - expected} trailing bytes after the last tensor")
    return tensors, metadata


def mmap_file(path):
    """Returns {name: tensor} backed by a copy-on-write memory map of the file (no read, no copy;
    pages load on first touch), as PyTorch users load safetensors. Minimal checks only: use
    read_file to validate a file."""
    import mmap
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        count = _numel(info["shape"])
        dtype = NAME_TO_DTYPE[info["dtype"]]
        if count == 0:
            tensors[name] = torch.empty(info["shape"], dtype=dtype)
            continue
        if dtype == torch.bfloat16:
            t = torch.frombuffer(mm, dtype=torch.int16, count=count, offset=8 + n + begin).view(torch.bfloat16)
        else:
            t = torch.frombuffer(mm, dtype=dtype, count=count, offset=8 + n + begin)
        tensors[name] = t.reshape(info["shape"])
    return tensors


def folder_files(folder):
    """The safetensors files of a Hugging Face folder (shards from the index, else model.safetensors)."""
    import os
    index_path = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            return [os.path.join(folder, s) for s in sorted(set(json.load(f)["weight_map"].values()))]
    return [os.path.join(folder, "model.safetensors")]


def mmap_folder(folder):
    tensors = {}
    for path in folder_files(folder):
        tensors.update(mmap_file(path))
    return tensors


def read_folder(folder):
    """All tensors of a Hugging Face folder: model.safetensors, or the shards listed in
    model.safetensors.index.json (whose weight_map must name each tensor's actual shard)."""
    import os
    index_path = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        tensors = {}
        for shard in sorted(set(index["weight_map"].values())):
            part, _ = read_file(os.path.join(folder, shard))
            for name in part:
                if index["weight_map"].get(name) != shard:
                    raise ValueError(f"{name} is in {shard} but the index says {index['weight_map'].get(name)}")
            tensors.update(part)
        missing = set(index["weight_map"]) - set(tensors)
        if missing:
            raise ValueError(f"index names tensors not found in any shard: {sorted(missing)[:5]}")
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        if index.get("metadata", {}).get("total_size") != total:
            raise ValueError(f"index total_size {index.get('metadata')} != {total}")
        return tensors
    tensors, _ = read_file(os.path.join(folder, "model.safetensors"))
    return tensors


if __name__ == "__main__":
    # Self-check: round trip of every dtype, including bf16 bit patterns and odd shapes.
    import tempfile
    torch.manual_seed(0)
    ts = {
        "b": torch.randn(3, 5).to(torch.bfloat16),
        "a": torch.randn(7),
        "c": torch.randn(2, 3, 1).half(),
        "scalar_like": torch.randn(1),
        "fp8_bytes": torch.arange(256, dtype=torch.uint8).reshape(16, 16),
    }
    with tempfile.TemporaryDirectory() as d:
        p = d + "/x.safetensors"
        write_file(p, ts)
        back, meta = read_file(p)
        assert meta == {"format": "pt"}, meta
        for k in ts:
            assert back[k].dtype == ts[k].dtype and torch.equal(back[k], ts[k]), k
        with open(p, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        assert (8 + n) % 8 == 0
    print("safetensors_io self-check ok")
