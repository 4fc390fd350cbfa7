// The web chat in a real browser (Debian's chromium, headless, driven by puppeteer-core): send a
// message, see the reasoning ("Thought for N s") and the answer rendered with KaTeX, turn
// DeepThink off and get an answer with no reasoning, reload and find the conversation kept,
// regenerate, stop a reply, and save screenshots.
// usage: node chat_page.mjs R1_BINARY MODEL_DIR SCREENSHOT_DIR
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import puppeteer from "puppeteer-core";

import { checker, startServer } from "./serve.mjs";

const [r1, modelDir, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const server = await startServer(r1, modelDir);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const { check, passed } = checker();
const page = await browser.newPage();
await page.setViewport({ width: 1100, height: 760 });
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
const url = `http://127.0.0.1:${server.port}/`;

const idle = () => page.waitForFunction(() => !document.getElementById("send").disabled &&
  document.getElementById("stop").hidden, { timeout: 60000 });
async function ask(text) {
  await page.click("#input");
  await page.type("#input", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("send").disabled, { timeout: 10000 }).catch(() => {});
  await idle();
}
const assistants = () => page.$$eval(".msg.assistant", (els) => els.map((e) => ({
  thought: e.querySelector("details.thought summary")?.textContent ?? null,
  reasoning: e.querySelector("details.thought .reasoning")?.textContent ?? "",
  answer: e.querySelector(".answer")?.textContent ?? "",
  katex: !!e.querySelector(".answer .katex"),
  finish: e.querySelector(".finish")?.textContent ?? "",
})));

await check("the page loads its scripts and the model's name", async () => {
  await page.goto(url, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.getElementById("model-name").textContent.includes("r1-arith"));
  assert.deepEqual(pageErrors, []);
  assert.equal(await page.$eval("#deepthink", (b) => b.getAttribute("aria-pressed")), "true");
});

await check("a message: reasoning in 'Thought for N s', the answer rendered with KaTeX", async () => {
  await ask("What is 48 + 27?");
  const [a] = await assistants();
  assert.match(a.thought, /^Thought for \d+ s$/);
  assert.ok(a.reasoning.length > 20, a.reasoning);
  assert.ok(a.katex, "\\boxed{} is rendered by KaTeX");
  assert.ok(a.answer.includes("75"), a.answer);
  await page.click(".msg.assistant details.thought summary");  // open it for the screenshot
  await page.screenshot({ path: `${shots}/chat-deepthink.png` });
});

await check("DeepThink off: an answer with no reasoning", async () => {
  await page.click("#deepthink");
  assert.equal(await page.$eval("#deepthink", (b) => b.getAttribute("aria-pressed")), "false");
  await ask("What is 12 + 30?");
  const all = await assistants();
  assert.equal(all.length, 2);
  assert.equal(all[1].thought, null);
  assert.ok(all[1].answer.length > 0);
  await page.screenshot({ path: `${shots}/chat-no-deepthink.png` });
});

await check("the conversation is kept across a reload, with the settings", async () => {
  await page.reload({ waitUntil: "networkidle0" });
  assert.equal((await page.$$(".msg")).length, 4);
  assert.equal((await page.$$("#conversations li")).length, 1);
  assert.equal(await page.$eval("#deepthink", (b) => b.getAttribute("aria-pressed")), "false");
});

await check("regenerate replaces the last answer", async () => {
  await page.click("#deepthink");  // back on
  await page.click(".msg.assistant:last-child .regenerate");
  await idle();
  const all = await assistants();
  assert.equal(all.length, 2);
  assert.match(all[1].thought ?? "", /^Thought for \d+ s$/);
});

await check("stop ends a streaming reply and keeps what came", async () => {
  // A slow link, so that the reply is still arriving when Stop is pressed.
  const cdp = await page.createCDPSession();
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions",
    { offline: false, latency: 0, downloadThroughput: 200, uploadThroughput: 100000 });
  await page.$eval("#max_tokens", (e) => { e.value = "400"; });
  await page.type("#input", "What is 7 * 8?");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.getElementById("stop").hidden, { timeout: 10000 });
  await page.waitForFunction(() => {
    const m = [...document.querySelectorAll(".msg.assistant")].pop();
    return m && m.textContent.length > 0;
  }, { timeout: 30000 });
  await page.click("#stop");
  await idle();
  await cdp.send("Network.emulateNetworkConditions",
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const last = (await assistants()).pop();
  assert.equal(last.finish, "(stopped)");
  assert.deepEqual(pageErrors, []);
});

await check("new chat starts an empty conversation", async () => {
  await page.click("#new-chat");
  assert.equal((await page.$$(".msg")).length, 0);
  await ask("What is 2 + 2?");
  assert.equal((await page.$$("#conversations li")).length, 2);
  await page.screenshot({ path: `${shots}/chat-two-conversations.png` });
});

await browser.close();
server.proc.kill("SIGTERM");
console.log(`${passed()} checks passed; screenshots in ${shots}`);
