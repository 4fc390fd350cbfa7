// Writes tests/fixtures/tokenizer/goldens.json: for each of the five real tokenizers, the ids of
// every corpus string encoded WITHOUT special tokens by @lenml/tokenizers 3.7.2 (a JavaScript port
// of Hugging Face tokenizers), and the oracle's decode of those ids where it differs from the
// input text. Every corpus encoding is also checked against Hugging Face's own Rust tokenizers
// (0.22.2, through the Node bindings @anush008/tokenizers 0.6.0); the variants of variants.json
// marked "oracle": "hf" take their ids from it, for behaviours the JS port does not reproduce.
//
// Usage (from the repository root):
//   (cd tools/tokenizer_oracle && npm ci)
//   node tools/tokenizer_oracle/make_goldens.mjs [TOKENIZERS_DIR]   (default build/tokenizers,
//   which CMake unpacks from tests/fixtures/tokenizers.tar.xz)
import fs from "fs";
import path from "path";
import crypto from "crypto";
import { fileURLToPath } from "url";
import { TokenizerLoader } from "@lenml/tokenizers";
import { Tokenizer as HfTokenizer } from "@anush008/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const tokenizers = process.argv[2] || path.resolve(repo, "build/tokenizers");
const fixtures = path.join(repo, "tests/fixtures/tokenizer");
const corpusText = fs.readFileSync(path.join(fixtures, "corpus.json"), "utf8");
const corpus = JSON.parse(corpusText);
const names = ["deepseek-v3", "r1", "qwen2.5", "r1-distill-qwen", "llama3.1"];

export function loadTokenizer(dir) {
  const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: read("tokenizer.json"),
    tokenizerConfig: read("tokenizer_config.json"),
  });
}

const hfAgreement = {};
const out = {
  oracle: "@lenml/tokenizers 3.7.2",
  corpus_sha256: crypto.createHash("sha256").update(corpusText).digest("hex"),
  tokenizers: {},
};
for (const name of names) {
  const tok = loadTokenizer(path.join(tokenizers, name));
  const ids = [];
  const decoded = {};
  corpus.forEach((text, i) => {
    const e = tok.encode(text, { add_special_tokens: false });
    ids.push(e);
    const d = e.length ? tok.decode(e, { skip_special_tokens: false }) : "";
    if (d !== text) decoded[i] = d;
  });
  out.tokenizers[name] = { ids, decoded };
  // Cross-check with Hugging Face's Rust implementation.
  const hf = HfTokenizer.fromFile(path.join(tokenizers, name, "tokenizer.json"));
  const disagree = [];
  for (let i = 0; i < corpus.length; ++i) {
    const e = await hf.encode(corpus[i], null, { addSpecialTokens: false });
    if (JSON.stringify(Array.from(e.getIds())) !== JSON.stringify(ids[i])) disagree.push(i);
  }
  if (disagree.length) {
    console.error(`${name}: JS port and HF Rust disagree on corpus ${JSON.stringify(disagree)}`);
    process.exitCode = 1;
  }
  hfAgreement[name] = `${corpus.length - disagree.length}/${corpus.length}`;
  console.error(`${name}: ${corpus.length} strings, ${ids.reduce((a, x) => a + x.length, 0)} ids, ` +
                `${Object.keys(decoded).length} decode differently from the input`);
}
// Encoding WITH special tokens for the first strings (the oracle applies tokenizer.json's
// post_processor only; tests use these for the tokenizers whose BOS comes from it).
const withSpecial = {};
for (const name of names) {
  const tok = loadTokenizer(path.join(tokenizers, name));
  withSpecial[name] = corpus.slice(0, 40).map((t) => tok.encode(t, { add_special_tokens: true }));
}
// Variants: tokenizers built from tests/fixtures/tokenizer/variants.json (changed flags, tiny
// character-level models), with their own strings.
const variants = {};
const variantSpecs = JSON.parse(fs.readFileSync(path.join(fixtures, "variants.json"), "utf8"));
for (const v of variantSpecs) {
  let json, config;
  if (v.base_variant) {
    const b = variantSpecs.find((x) => x.name === v.base_variant);
    json = structuredClone(b.tokenizer);
    config = structuredClone(b.config);
  } else if (v.base) {
    const dir = path.join(tokenizers, v.base);
    json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  } else {
    json = v.tokenizer;
    config = v.config;
  }
  for (const a of json.added_tokens) Object.assign(a, (v.added_token_flags || {})[a.content] || {});
  if (v.pre_tokenizer) json.pre_tokenizer = v.pre_tokenizer;
  for (const a of v.added_tokens_append || []) json.added_tokens.push(a);
  if (v.oracle === "hf") {
    const tok = HfTokenizer.fromString(JSON.stringify(json));
    variants[v.name] = [];
    for (const t of v.strings) {
      variants[v.name].push(Array.from((await tok.encode(t, null, { addSpecialTokens: false })).getIds()));
    }
  } else {
    const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
    variants[v.name] = v.strings.map((t) => tok.encode(t, { add_special_tokens: false }));
  }
}
// One string per line keeps the file diffable.
let text = "{\n";
text += `"oracle": ${JSON.stringify(out.oracle)},\n"corpus_sha256": ${JSON.stringify(out.corpus_sha256)},\n`;
text += `"hf_rust_0.22.2_agrees_on_corpus": ${JSON.stringify(hfAgreement)},\n`;
text += `"tokenizers": {\n`;
names.forEach((name, n) => {
  const t = out.tokenizers[name];
  text += `${JSON.stringify(name)}: {\n"decoded": ${JSON.stringify(t.decoded)},\n"ids": [\n`;
  text += t.ids.map((x) => JSON.stringify(x)).join(",\n");
  text += `\n]}${n + 1 < names.length ? "," : ""}\n`;
});
text += "},\n";
text += `"with_special_first_40": ${JSON.stringify(withSpecial)},\n`;
text += `"variants": ${JSON.stringify(variants)}\n}\n`;
fs.writeFileSync(path.join(fixtures, "goldens.json"), text);
