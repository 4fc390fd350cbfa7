#!/usr/bin/env bash
# Tokenizer speed, r1 next to Hugging Face's Rust tokenizers (Node bindings) and the JS oracle
# (@lenml/tokenizers 3.7.2) in the same run: load time of a tokenizer folder and single-threaded
# encode MB/s on a mixed text (the multilingual test corpus, C++ headers, the Unicode NamesList,
# license texts), cut into ~2 KB documents. Also checks that all produced the same ids (FNV-1a
# hash over all of them).
#
# Usage: bench/tokenizer_bench.sh [TOKENIZER_DIR ...]   (default: build/tokenizers/qwen2.5)
# Env: BUILD (default build, configured by scripts/build.sh), REPEATS (default 3).
# Needs: node + `npm ci` in tools/tokenizer_oracle (done here if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$repo/build}
repeats=${REPEATS:-3}
cd "$repo"
[ $# -gt 0 ] || set -- "$build/tokenizers/qwen2.5"

cmake --build "$build" --target tokenizer_bench >/dev/null
[ -d tools/tokenizer_oracle/node_modules ] || (cd tools/tokenizer_oracle && npm ci --no-audit --no-fund)

text="$build/tokenizer_bench.txt"
if [ ! -f "$text" ]; then
  python3 - "$text" <<'PY'
import glob, json, sys
parts = ["\n".join(json.load(open("tests/fixtures/tokenizer/corpus.json"))) * 20]
code = "".join(open(f, encoding="utf-8").read() for f in sorted(glob.glob("/usr/include/c++/12/bits/*.h")))
parts.append(code[:1500000])
for f in ["/usr/share/unicode/NamesList.txt"] + sorted(glob.glob("/usr/share/common-licenses/*")):
    try:
        parts.append(open(f, encoding="utf-8").read()[:1000000])
    except (OSError, UnicodeDecodeError):
        pass
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(parts))
PY
fi
echo "bench text: $text ($(wc -c <"$text") bytes)"

for dir in "$@"; do
  echo "== $dir"
  r1=$("$build/tokenizer_bench" "$dir" "$text" "$repeats")
  hf=$(node bench/tokenizer_bench.mjs "$dir" "$text" "$repeats" hf)
  js=$(node bench/tokenizer_bench.mjs "$dir" "$text" "$repeats" js)
  printf '%s\n%s\n%s\n' "$r1" "$hf" "$js"
  python3 - "$r1" "$hf" "$js" <<'PY'
import json, sys
a, h, j = (json.loads(x) for x in sys.argv[1:4])
for b in (h, j):
    print(f"r1 vs {b['impl']}: load {a['load_s']*1000:.0f} ms vs {b['load_s']*1000:.0f} ms "
          f"({b['load_s']/a['load_s']:.1f}x faster); encode {a['encode_mb_s']:.1f} vs "
          f"{b['encode_mb_s']:.1f} MB/s ({a['encode_mb_s']/b['encode_mb_s']:.1f}x); "
          f"same ids: {a['ids_fnv1a'] == b['ids_fnv1a'] and a['ids'] == b['ids']}")
PY
done
