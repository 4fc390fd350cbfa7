// The JS oracle's side of bench/tokenizer_bench.sh: same measurements as tokenizer_bench.cc with
// @lenml/tokenizers (installed in tools/tokenizer_oracle). The FNV-1a hash of all ids uses BigInt so
// both sides agree bit for bit.
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { TokenizerLoader } = await import(
  path.join(here, "../tools/tokenizer_oracle/node_modules/@lenml/tokenizers/dist/main.mjs"));
const [dir, file, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 3);

function load() {
  const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: read("tokenizer.json"), tokenizerConfig: read("tokenizer_config.json") });
}
let loadBest = 1e9;
let tok;
for (let i = 0; i < 3; ++i) {
  const t0 = performance.now();
  tok = load();
  loadBest = Math.min(loadBest, (performance.now() - t0) / 1000);
}
const bytes = fs.readFileSync(file);
// Same document cuts as the C++ side (byte offsets: find '\n' at or after start + 2000).
const docs = [];
for (let start = 0; start < bytes.length;) {
  let end = bytes.indexOf(10, Math.min(bytes.length, start + 2000));
  end = end < 0 ? bytes.length : end + 1;
  docs.push(bytes.subarray(start, end).toString("utf8"));
  start = end;
}
let encodeBest = 1e9;
let ids = [];
for (let r = 0; r < repeats; ++r) {
  const t0 = performance.now();
  ids = docs.map((doc) => tok.encode(doc, { add_special_tokens: false }));
  encodeBest = Math.min(encodeBest, (performance.now() - t0) / 1000);
}
let hash = 1469598103934665603n, nIds = 0;
for (const docIds of ids) {
  for (const id of docIds) hash = ((hash ^ BigInt(id)) * 1099511628211n) & 0xffffffffffffffffn;
  nIds += docIds.length;
}
console.log(JSON.stringify({ impl: "js-oracle", load_s: +loadBest.toFixed(4), bytes: bytes.length,
  docs: docs.length, ids: nIds, encode_s: +encodeBest.toFixed(4),
  encode_mb_s: +(bytes.length / encodeBest / 1e6).toFixed(2), ids_fnv1a: hash.toString(16).padStart(16, "0") }));
