// Starts `r1 serve` on a free port for a test and resolves once it listens.
import { spawn } from "node:child_process";

export function startServer(r1, modelDir, extraArgs = []) {
  const proc = spawn(r1, ["serve", "-m", modelDir, "--port", "0", ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("r1 serve did not start:\n" + log)), 30000);
    proc.stderr.on("data", (d) => {
      log += d;
      const m = log.match(/on http:\/\/[^:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), log: () => log });
      }
    });
    proc.on("exit", (code) => reject(new Error(`r1 serve exited (${code}):\n${log}`)));
  });
}

// Runs named checks in order, printing ok/FAIL; a failure sets the exit code.
export function checker() {
  let passed = 0;
  const check = async (name, fn) => {
    try {
      await fn();
      passed++;
      console.log(`ok ${name}`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      process.exitCode = 1;
    }
  };
  return { check, passed: () => passed };
}

// Reads an SSE response, calling onEvent with each "data: {...}" object (returning false stops
// reading). Resolves "done" after "data: [DONE]", "truncated" if the stream ended without it,
// "cancelled" if onEvent stopped it.
export async function readSse(res, onEvent) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "", done = false;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (!ev.startsWith("data: ")) continue;
      if (ev === "data: [DONE]") { done = true; continue; }
      if (onEvent(JSON.parse(ev.slice(6))) === false) { reader.cancel(); return "cancelled"; }
    }
  }
  return done ? "done" : "truncated";
}
