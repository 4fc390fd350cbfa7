// llama.cpp's side of bench/gguf_speed_vs_llamacpp.py: prefill and decode speed of a GGUF file
// with node-llama-cpp's prebuilt CPU build. Each repetition decodes GEN tokens greedily after a
// PROMPT-token prompt (an English sentence repeated, tokenized by the file) on a fresh sequence: prefill is the time to the first token,
// decode the rate of the GEN - 1 tokens after it. One warm-up, then REPS timed; prints the
// medians as one JSON line {"prefill_tok_s", "decode_tok_s"}.
// Usage: node speed.mjs MODEL.gguf PROMPT GEN THREADS REPS
import {getLlama} from "node-llama-cpp";

const [modelPath, p, g, t, r] = process.argv.slice(2);
const [promptTokens, genTokens, threads, reps] = [p, g, t, r].map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({
  contextSize: promptTokens + genTokens + 64,
  batchSize: promptTokens,
  threads,
});
const sequence = context.getSequence();
const sentence = Array.from(model.tokenize("The quick brown fox jumps over the lazy dog 1234. "));
const prompt = Array.from({length: promptTokens}, (_, i) => sentence[i % sentence.length]);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prefill = [], decode = [];
for (let rep = 0; rep <= reps; ++rep) {
  await sequence.clearHistory();
  const t0 = performance.now();
  let t1 = 0, n = 0;
  for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
    void token;
    if (++n === 1) t1 = performance.now();
    if (n >= genTokens) break;
  }
  const t2 = performance.now();
  if (rep === 0) continue;  // warm-up
  prefill.push(promptTokens / ((t1 - t0) / 1000));
  decode.push((genTokens - 1) / ((t2 - t1) / 1000));
}
console.log(JSON.stringify({prefill_tok_s: median(prefill), decode_tok_s: median(decode)}));
await context.dispose();
await model.dispose();
await llama.dispose();
