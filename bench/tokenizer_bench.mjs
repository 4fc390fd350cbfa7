// The JavaScript side of bench/tokenizer_bench.sh: the same measurements as tokenizer_bench.cc
// for one of two reference implementations installed in tools/tokenizer_oracle:
//   js: @lenml/tokenizers 3.7.2, the JS port of Hugging Face tokenizers (the test oracle);
//   hf: Hugging Face's Rust tokenizers 0.22.2 through the Node bindings @anush008/tokenizers
//       (documents encoded one by one with encode(), not the multi-threaded encodeBatch).
// The FNV-1a hash of all ids uses BigInt so every side agrees bit for bit.
//
// Usage: node bench/tokenizer_bench.mjs TOKENIZER_DIR TEXT_FILE [REPEATS] [js|hf]
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "../tools/tokenizer_oracle/node_modules");
const [dir, file, repeatsArg, implArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 3);
const impl = implArg || "js";

let load, encode;
if (impl === "hf") {
  const { Tokenizer } = await import(path.join(modules, "@anush008/tokenizers/index.js"));
  load = () => Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
  encode = async (tok, doc) =>
    Array.from((await tok.encode(doc, null, { addSpecialTokens: false })).getIds());
} else {
  const { TokenizerLoader } = await import(
    path.join(modules, "@lenml/tokenizers/dist/main.mjs"));
  load = () => {
    const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    return TokenizerLoader.fromPreTrained({
      tokenizerJSON: read("tokenizer.json"), tokenizerConfig: read("tokenizer_config.json") });
  };
  encode = async (tok, doc) => tok.encode(doc, { add_special_tokens: false });
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
  ids = [];
  for (const doc of docs) ids.push(await encode(tok, doc));
  encodeBest = Math.min(encodeBest, (performance.now() - t0) / 1000);
}
let hash = 1469598103934665603n, nIds = 0;
for (const docIds of ids) {
  for (const id of docIds) hash = ((hash ^ BigInt(id)) * 1099511628211n) & 0xffffffffffffffffn;
  nIds += docIds.length;
}
console.log(JSON.stringify({ impl: impl === "hf" ? "hf-rust" : "js-oracle", load_s: +loadBest.toFixed(4),
  bytes: bytes.length, docs: docs.length, ids: nIds, encode_s: +encodeBest.toFixed(4),
  encode_mb_s: +(bytes.length / encodeBest / 1e6).toFixed(2), ids_fnv1a: hash.toString(16).padStart(16, "0") }));
