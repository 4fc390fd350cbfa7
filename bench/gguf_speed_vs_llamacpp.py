#!/usr/bin/env python3
"""r1 and llama.cpp on the same GGUF files, side by side: prefill and decode tokens/s at 1 and 2
threads, interleaved (for each round, each thread count, each file: r1 then llama.cpp), medians
over the rounds, ratios r1 / llama.cpp, and r1's decode against the bandwidth roofline (bytes per
step from `r1 bench`, bandwidth measured by `r1 bench --dry-run` before every round with each
thread count; the best of the rounds is the roofline).

llama.cpp is node-llama-cpp's prebuilt CPU build from npm (bench/llamacpp, installed on first
use); r1 reads the GGUF file with -m. The model is a random one with R1-Distill-Qwen-1.5B's shape
(--shape 1.5b, the default) or Qwen2.5-0.5B's (--shape 0.5b: hidden 896, tied embeddings), written
once under $R1_BENCH_DIR (default /tmp/r1bench), as GGUF files of the given types written by
`r1 quantize` / `r1 convert`.

Usage: python3 bench/gguf_speed_vs_llamacpp.py [--rounds 3] [--prompt 64] [--gen 32]
                                                [--types q8_0,bf16] [--threads 1,2] [--shape 1.5b]
"""

# --shape: (hidden, layers, heads, kv heads, intermediate, tied embeddings)
SHAPES = {"1.5b": (1536, 28, 12, 2, 8960, False), "0.5b": (896, 24, 14, 2, 4864, True)}
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R1 = os.path.join(ROOT, "build", "r1")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--types", default="q8_0,bf16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shape", default="1.5b", choices=sorted(SHAPES))
    args = ap.parse_args()
    bench_dir = os.environ.get("R1_BENCH_DIR", "/tmp/r1bench")
    model = os.path.join(bench_dir, f"qwen-{args.shape}-shape-bf16")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        hidden, layers, heads, kv, inter, tied = SHAPES[args.shape]
        run([R1, "train", "init", "--arch", "qwen2", "--tokenizer",
             os.path.join(ROOT, "build", "tokenizers", "r1-distill-qwen"), "--hidden",
             str(hidden), "--layers", str(layers), "--heads", str(heads), "--kv-heads", str(kv),
             "--intermediate", str(inter), "--vocab", "151936", "--max-position", "4096",
             "--dtype", "bf16", "--seed", "1", "--out", model] + ([] if tied else ["--untied"]))
    llamacpp = os.path.join(ROOT, "bench", "llamacpp")
    if not os.path.isdir(os.path.join(llamacpp, "node_modules", "node-llama-cpp")):
        run(["npm", "install", "--prefix", llamacpp, "--no-audit", "--no-fund"])
    types = args.types.split(",")
    files = {}
    for t in types:
        f = os.path.join(bench_dir, f"qwen-{args.shape}-shape-{t}.gguf")
        if not os.path.exists(f):
            verb = "quantize" if t.startswith("q") else "convert"
            run([R1, verb, "-m", model, "--type", t, "--out", f])
        files[t] = f
    cpu = run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"]).strip()
    # The roofline of each thread count: the read bandwidth r1 bench measures with that many
    # threads (one core cannot draw what two can), measured before every round, as this VM's
    # bandwidth moves by the minute; the best of the rounds counts.
    thread_counts = [int(x) for x in args.threads.split(",")]
    bandwidth = {threads: [] for threads in thread_counts}

    def measure_bandwidth():
        for threads in thread_counts:
            r = json.loads(run([R1, "bench", "-m", files[types[0]], "--dry-run", "--threads",
                                str(threads), "--json"]))
            bandwidth[threads].append(r["machine_read_gb_s"])

    print(f"{args.shape} shape; CPU: {cpu}; prompt {args.prompt} tokens, {args.gen} decoded; "
          f"{args.rounds} rounds, medians", flush=True)
    results = {}  # (type, threads, impl) -> {"prefill": [...], "decode": [...], "bytes": ...}
    for rnd in range(args.rounds):
        measure_bandwidth()
        for threads in thread_counts:
            for t in types:
                r = json.loads(run([R1, "bench", "-m", files[t], "--prompt-tokens",
                                    str(args.prompt), "--gen-tokens", str(args.gen), "--reps",
                                    "2", "--threads", str(threads), "--no-bandwidth", "--json"]))
                e = results.setdefault((t, threads, "r1"), {"prefill": [], "decode": []})
                e["prefill"].append(r["prefill_tok_s"])
                e["decode"].append(r["decode_tok_s"])
                e["bytes"] = r["weight_bytes_per_step"]
                ll = json.loads(run(["node", os.path.join(llamacpp, "speed.mjs"), files[t],
                                     str(args.prompt), str(args.gen), str(threads), "2"],
                                    cwd=llamacpp))
                e = results.setdefault((t, threads, "llama"), {"prefill": [], "decode": []})
                e["prefill"].append(ll["prefill_tok_s"])
                e["decode"].append(ll["decode_tok_s"])
        print(f"round {rnd + 1} done", file=sys.stderr, flush=True)
    print("measured read bandwidth (each round): " + "; ".join(
        f"{k} thread{'s' if k > 1 else ''} " + " / ".join(f"{v:.1f}" for v in vs) + " GB/s"
        for k, vs in bandwidth.items()))
    print("| file | threads | prefill r1 | prefill llama.cpp | ratio | decode r1 | decode llama.cpp "
          "| ratio | r1 decode % of roofline |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t in types:
        for threads in thread_counts:
            a, b = results[(t, threads, "r1")], results[(t, threads, "llama")]
            pa, pb = statistics.median(a["prefill"]), statistics.median(b["prefill"])
            da, db = statistics.median(a["decode"]), statistics.median(b["decode"])
            bw = max(bandwidth[threads])
            roof = bw * 1e9 / a["bytes"] if bw > 0 else float("nan")
            print(f"| {t.upper()} | {threads} | {pa:.1f} | {pb:.1f} | {pa / pb:.2f} | {da:.2f} | "
                  f"{db:.2f} | {da / db:.2f} | {100 * da / roof:.0f}% |")


if __name__ == "__main__":
    main()
