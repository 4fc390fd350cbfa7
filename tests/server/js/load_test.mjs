// Load test: 64 concurrent clients for a bounded time against one `r1 serve`, each sending a mix
// of well-formed requests (greedy chat, streamed and not, sampled n > 1, completions) and bad
// ones (malformed JSON, unknown fields, prompts longer than the context, clients that hang up
// mid-stream). Checks: every well-formed request got a complete answer, greedy answers equal
// `r1 generate`'s, every bad one its error status, the server never crashed, and its memory after
// a second round of load is back where it was after the first (no growth: nothing leaks).
// usage: node load_test.mjs R1_BINARY MODEL_DIR [SECONDS_PER_ROUND]
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

import { readSse, startServer } from "./serve.mjs";

const [r1, modelDir, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 15);
const clients = 64;
const questions = ["What is 48 + 27?", "What is 95 - 187?", "What is 306 * 7?",
  "Tom has 3 apples and buys 4 more. How many apples does he have?", "(12 + 7) * 3 - 4?",
  "What is 9000 - 1?"];

// The reference: r1 generate, greedy, one question at a time, with the server's bf16 KV cache.
const expected = questions.map((q) => {
  const r = spawnSync(r1, ["generate", "-m", modelDir, "--chat", "-p", q, "--temperature", "0",
    "-n", "300", "--json", "--threads", "1", "--kv-dtype", "bf16"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  return { reasoning: j.reasoning, content: j.content, finish: j.finish_reason };
});

const server = await startServer(r1, modelDir, ["--max-concurrency", "32", "--max-queue", "256",
  "--kv-memory", "64M"]);
const base = `http://127.0.0.1:${server.port}`;
let crashed = false;
server.proc.on("exit", () => { crashed = true; });
const rss = () => Number(readFileSync(`/proc/${server.proc.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024;

const tally = {};
const count = (k) => { tally[k] = (tally[k] || 0) + 1; };
const failures = [];
const fail = (what) => { if (failures.length < 20) failures.push(what); };

async function post(path, body, signal) {
  return fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body), signal });
}
const chat = (i, extra = {}) => ({ model: "r1-arith", messages: [{ role: "user", content: questions[i] }],
  temperature: 0, max_tokens: 300, ...extra });

const kinds = [
  async function greedy() {
    const i = Math.floor(Math.random() * questions.length);
    const res = await post("/v1/chat/completions", chat(i));
    const j = await res.json();
    if (res.status === 429) return count("429");
    const m = j.choices?.[0]?.message;
    if (res.status !== 200 || m.reasoning_content !== expected[i].reasoning || m.content !== expected[i].content)
      return fail(`greedy ${i}: ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
    count("greedy ok");
  },
  async function greedyStream() {
    const i = Math.floor(Math.random() * questions.length);
    const res = await post("/v1/chat/completions", chat(i, { stream: true }));
    if (res.status === 429) return count("429");
    let reasoning = "", content = "", finish = null;
    const end = await readSse(res, (c) => {
      if (c.error) { fail(`stream error ${c.error.message}`); return; }
      for (const ch of c.choices) {
        reasoning += ch.delta.reasoning_content || "";
        content += ch.delta.content || "";
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    });
    if (end !== "done" || reasoning !== expected[i].reasoning || content !== expected[i].content || !finish)
      return fail(`stream ${i}: ${end} ${finish} ${JSON.stringify(content)}`);
    count("stream ok");
  },
  async function sampled() {
    const res = await post("/v1/chat/completions", chat(0, { temperature: 1, n: 3, max_tokens: 120 }));
    if (res.status === 429) return count("429");
    const j = await res.json();
    if (res.status !== 200 || j.choices.length !== 3 || j.choices.some((c) => !["stop", "length"].includes(c.finish_reason)))
      return fail(`sampled: ${res.status} ${JSON.stringify(j).slice(0, 200)}`);
    count("sampled ok");
  },
  async function completion() {
    const res = await post("/v1/completions", { model: "r1-arith", prompt: "12 + 5 =", max_tokens: 16, temperature: 0 });
    if (res.status === 429) return count("429");
    const j = await res.json();
    if (res.status !== 200 || j.usage.completion_tokens < 1) return fail(`completion: ${JSON.stringify(j)}`);
    count("completion ok");
  },
  async function malformed() {
    const res = await post("/v1/chat/completions", '{"model": "r1-arith", "messages": [');
    const j = await res.json();
    if (res.status !== 400 || j.error.code !== "invalid_json") return fail(`malformed: ${res.status}`);
    count("malformed 400");
  },
  async function unknownField() {
    const res = await post("/v1/chat/completions", chat(0, { frobnicate: 1 }));
    const j = await res.json();
    if (res.status !== 400 || j.error.param !== "frobnicate") return fail(`unknown field: ${res.status}`);
    count("unknown 400");
  },
  async function overLong() {
    const res = await post("/v1/chat/completions", { model: "r1-arith", messages: [{ role: "user", content: "7".repeat(20000) }] });
    const j = await res.json();
    if (res.status !== 400 || j.error.code !== "context_length_exceeded") return fail(`over-long: ${res.status}`);
    count("over-long 400");
  },
  async function hangUp() {
    const ac = new AbortController();
    const res = await post("/v1/chat/completions", chat(1, { stream: true, ignore_eos: true, max_tokens: 600 }), ac.signal);
    if (res.status === 429) return count("429");
    let n = 0;
    try {
      await readSse(res, () => { if (++n === 3) ac.abort(); });
    } catch (e) {
      if (e.name !== "AbortError") return fail(`hang-up: ${e}`);
    }
    count("hung up");
  },
];

async function round() {
  const until = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (Date.now() < until && !crashed) {
      const k = kinds[(c + Math.floor(Math.random() * kinds.length)) % kinds.length];
      try {
        await k();
      } catch (e) {
        fail(`${k.name}: ${e}`);
      }
    }
  }));
}

const idle = async () => {
  for (let i = 0; i < 100; i++) {
    const m = await (await fetch(base + "/metrics")).text();
    if (/\nr1_sequences_running 0\n/.test(m) && /\nr1_requests_waiting 0\n/.test(m)) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not become idle");
};

await round();
await idle();
const afterFirst = rss();
await round();
const metrics = await idle();
const afterSecond = rss();
console.log(JSON.stringify(tally));
console.log(`RSS after round 1: ${afterFirst.toFixed(1)} MiB, after round 2: ${afterSecond.toFixed(1)} MiB`);
console.log(metrics.split("\n").filter((l) => /^r1_(requests_total|generation_tokens_total|prefix_cache_hit_rate|time_to_first_token_seconds_count)/.test(l)).join("\n"));
assert.ok(!crashed, "the server crashed:\n" + server.log());
assert.deepEqual(failures, []);
for (const k of ["greedy ok", "stream ok", "sampled ok", "completion ok", "malformed 400", "unknown 400", "over-long 400", "hung up"])
  assert.ok(tally[k] > 0, `no '${k}' in ${JSON.stringify(tally)}`);
assert.ok(afterSecond <= afterFirst * 1.1 + 8, `memory grew from ${afterFirst} to ${afterSecond} MiB`);
server.proc.kill("SIGTERM");
console.log("load test passed");
