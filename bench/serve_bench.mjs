// r1 serve throughput: aggregate decode tokens/s with 1, 4, 16 and 64 concurrent streams, time
// to first token, and the prefix cache's effect (one long system prompt sent again and again).
// usage: node serve_bench.mjs R1_BINARY MODEL_DIR [--streams 1,4,16,64] [--tokens N]
//        [--prefix-tokens N] [--repeats N] [--threads N] [--fast-bf16 1] [--temperature T]
import { readSse, startServer } from "../tests/server/js/serve.mjs";

const [r1, modelDir, ...rest] = process.argv.slice(2);
const opt = { streams: "1,4,16,64", tokens: 64, "prefix-tokens": 2000, repeats: 32, threads: 2 };
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, "")] = rest[i + 1];
const streams = String(opt.streams).split(",").map(Number);
const maxStreams = Math.max(...streams);

const server = await startServer(r1, modelDir, ["--threads", String(opt.threads),
  "--max-concurrency", String(maxStreams), "--max-queue", String(maxStreams * 2),
  ...(opt["fast-bf16"] ? ["--fast-bf16"] : [])]);
const base = `http://127.0.0.1:${server.port}`;
const model = (await (await fetch(`${base}/v1/models`)).json()).data[0];
const now = () => performance.now() / 1000;

// One streamed chat request; resolves with its timings and token count.
async function one(messages, maxTokens) {
  const t0 = now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: model.id, messages, max_tokens: maxTokens, ignore_eos: true,
      ...(opt.temperature !== undefined ? { temperature: Number(opt.temperature) } : {}),
      stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = null, usage = null;
  await readSse(res, (c) => {
    if (c.usage) usage = c.usage;
    const d = c.choices?.[0]?.delta;
    if (first === null && d && (d.reasoning_content || d.content)) first = now();
  });
  return { t0, first, end: now(), tokens: usage.completion_tokens, prompt: usage.prompt_tokens,
    cached: usage.prompt_tokens_details?.cached_tokens ?? 0 };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const user = (i) => [{ role: "user", content: `Question ${i}: what is ${17 * i + 3} + ${29 * i + 11}?` }];
await one(user(0), 8);  // warm-up

const rows = [];
let single = 0;
for (const n of streams) {
  const t = Number(opt.tokens);
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => one(user(i + 1), t)));
  const wall = Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.t0));
  // Aggregate decode rate: every token after each stream's first, over the span from the first
  // stream's first token to the last stream's end (prefills of later streams included).
  const span = Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.first));
  const tokens = rs.reduce((a, r) => a + r.tokens, 0);
  const aggregate = rs.reduce((a, r) => a + r.tokens - 1, 0) / span;
  if (n === 1) single = aggregate;
  rows.push({ streams: n, tokens, wall: wall.toFixed(2), aggregate_decode_tok_s: aggregate.toFixed(1),
    vs_single: (aggregate / single).toFixed(2),
    median_stream_tok_s: median(rs.map((r) => (r.tokens - 1) / (r.end - r.first))).toFixed(1),
    median_ttft_s: median(rs.map((r) => r.first - r.t0)).toFixed(3) });
}

// The prefix cache: a long system prompt (folded into the user turn by R1's convention), cold
// once, then repeated with different questions.
const ctx = model.max_model_len;
const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
let system = "";
const target = Math.min(Number(opt["prefix-tokens"]), ctx - 128);
for (let i = 0; ; i++) {
  system += `${words[i % 8]} ${i} `;
  if (i % 5 === 4) {
    const tok = await (await fetch(`${base}/tokenize`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: system }) })).json();
    if (tok.count >= target) break;
  }
}
const withSystem = (i) => [{ role: "system", content: system }, ...user(i)];
const cold = await one(withSystem(1000), 4);
const warm = [];
for (let i = 0; i < Number(opt.repeats); i++) warm.push(await one(withSystem(1001 + i), 4));
const warmTtft = median(warm.map((r) => r.first - r.t0));
const prefix = { prompt_tokens: cold.prompt, cached_tokens_warm: median(warm.map((r) => r.cached)),
  cold_ttft_s: (cold.first - cold.t0).toFixed(3), warm_ttft_median_s: warmTtft.toFixed(3),
  warm_over_cold: (warmTtft / (cold.first - cold.t0)).toFixed(3) };

server.proc.kill("SIGTERM");
console.log(JSON.stringify({ model: model.id, threads: Number(opt.threads), rows, prefix }));
console.log(`\n${model.id}, ${opt.threads} threads, ${opt.tokens} tokens per stream`);
console.log("| streams | aggregate decode tok/s | x single stream | median per-stream tok/s | median TTFT s |");
console.log("|---|---|---|---|---|");
for (const r of rows)
  console.log(`| ${r.streams} | ${r.aggregate_decode_tok_s} | ${r.vs_single} | ${r.median_stream_tok_s} | ${r.median_ttft_s} |`);
console.log(`prefix cache: ${prefix.prompt_tokens}-token prompt, cold TTFT ${prefix.cold_ttft_s} s, ` +
  `repeated (median of ${opt.repeats}) ${prefix.warm_ttft_median_s} s with ${prefix.cached_tokens_warm} cached tokens: ` +
  `${(100 * prefix.warm_over_cold).toFixed(1)}% of cold`);
