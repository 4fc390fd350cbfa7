// The official OpenAI SDK (npm "openai") against `r1 serve`, as a user's program would call it:
// models, chat completions (non-streaming and streaming, reading reasoning_content), completions,
// errors as the SDK's typed exceptions, an aborted stream, and a clean exit on SIGTERM.
// usage: node openai_client.mjs R1_BINARY MODEL_DIR
import assert from "node:assert/strict";
import OpenAI from "openai";

import { checker, startServer } from "./serve.mjs";

const [r1, modelDir] = process.argv.slice(2);
const key = "sk-r1-test";

const server = await startServer(r1, modelDir, ["--api-key", key]);
const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${server.port}/v1`, maxRetries: 0 });
const model = "r1-arith";
const question = [{ role: "user", content: "What is 48 + 27?" }];
const { check, passed } = checker();

await check("models.list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
});

let whole;
await check("chat non-streaming with reasoning_content", async () => {
  const r = await client.chat.completions.create({ model, messages: question, temperature: 0, max_tokens: 300 });
  whole = r.choices[0].message;
  assert.equal(r.object, "chat.completion");
  assert.ok(whole.reasoning_content.length > 0, "reasoning_content is empty");
  assert.ok(whole.content.includes("\\boxed{75}"), whole.content);
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.ok(r.usage.completion_tokens_details.reasoning_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

await check("chat streaming: reasoning deltas first, same text, usage", async () => {
  const stream = await client.chat.completions.create({
    model, messages: question, temperature: 0, max_tokens: 300, stream: true,
    stream_options: { include_usage: true },
  });
  let reasoning = "", content = "", finish = null, usage = null, sawContent = false;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.reasoning_content) {
        assert.ok(!sawContent, "reasoning after content");
        reasoning += c.delta.reasoning_content;
      }
      if (c.delta.content) {
        sawContent = true;
        content += c.delta.content;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(reasoning, whole.reasoning_content);
  assert.equal(content, whole.content);
  assert.equal(finish, "stop");
  assert.ok(usage && usage.completion_tokens > 0);
});

await check("completions", async () => {
  const r = await client.completions.create({ model, prompt: "12 + 5 =", max_tokens: 8, temperature: 0 });
  assert.equal(r.object, "text_completion");
  assert.equal(typeof r.choices[0].text, "string");
  assert.equal(r.usage.completion_tokens, 8);
});

await check("errors as typed SDK exceptions", async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: question, temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "temperature");
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4o", messages: question }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  const noKey = new OpenAI({ apiKey: "wrong", baseURL: `http://127.0.0.1:${server.port}/v1`, maxRetries: 0 });
  await assert.rejects(noKey.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(
    client.chat.completions.create({
      model, messages: [...question, { role: "assistant", content: "75", reasoning_content: "x" },
        { role: "user", content: "and 1 + 1?" }],
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "messages[1].reasoning_content");
});

await check("an aborted stream leaves the server serving", async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model, messages: question, stream: true, max_tokens: 400, ignore_eos: true },
    { signal: ac.signal });
  let n = 0;
  try {
    for await (const _ of stream) if (++n === 2) ac.abort();
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === "AbortError", String(e));
  }
  assert.ok(n >= 2);
  const r = await client.chat.completions.create({ model, messages: question, temperature: 0, max_tokens: 300 });
  assert.deepEqual(r.choices[0].message, whole);
});

await check("SIGTERM: a clean exit", async () => {
  const exited = new Promise((resolve) => server.proc.on("exit", (code, signal) => resolve({ code, signal })));
  server.proc.kill("SIGTERM");
  const { code } = await exited;
  assert.equal(code, 0, server.log());
});

console.log(`${passed()} checks passed`);
if (process.exitCode) server.proc.kill("SIGKILL");
