// llama.cpp's side of bench/gguf_vs_llamacpp.sh: loads a GGUF file with node-llama-cpp's prebuilt
// CPU build, tokenizes the prompt text with the file's own tokenizer (special tokens parsed), and
// decodes N tokens greedily from the given prompt ids. Prints one JSON line:
// {"tokenize": [...], "greedy": [...]}.
// Usage: node greedy.mjs MODEL.gguf PROMPT_FILE '[ids]' N [THREADS]
import fs from "node:fs";
import {getLlama} from "node-llama-cpp";

const [modelPath, promptFile, idsJson, n, threads = "1"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const text = fs.readFileSync(promptFile, "utf8");
const own = Array.from(model.tokenize(text, true));
const ids = JSON.parse(idsJson);
const context = await model.createContext({contextSize: 512, threads: Number(threads)});
const sequence = context.getSequence();
const out = [];
for await (const token of sequence.evaluate(ids, {temperature: 0})) {
  out.push(token);
  if (out.length >= Number(n)) break;
}
console.log(JSON.stringify({tokenize: own, greedy: out}));
await context.dispose();
await model.dispose();
await llama.dispose();
