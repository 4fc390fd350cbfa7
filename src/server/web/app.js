// r1's web chat: conversations kept in this browser (localStorage), replies streamed from the
// server's /v1/chat/completions, the reasoning in a collapsible "Thought for N s" block apart from
// the answer, Markdown (marked) with LaTeX (KaTeX), DeepThink on or off, stop and regenerate.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "r1.chat.v1";
const state = { conversations: [], current: null, model: null, controller: null };

// ---- storage ----
function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || "{}");
    state.conversations = Array.isArray(s.conversations) ? s.conversations : [];
    state.current = s.current || null;
    for (const id of ["temperature", "top_p", "max_tokens", "seed", "system", "api_key"])
      if (s.settings && s.settings[id] !== undefined) $(id).value = s.settings[id];
    if (s.deepthink === false) $("deepthink").setAttribute("aria-pressed", "false");
  } catch (e) {
    state.conversations = [];
  }
}
function save() {
  const settings = {};
  for (const id of ["temperature", "top_p", "max_tokens", "seed", "system", "api_key"]) settings[id] = $(id).value;
  localStorage.setItem(KEY, JSON.stringify({
    conversations: state.conversations, current: state.current, settings,
    deepthink: deepthink(),
  }));
}
const deepthink = () => $("deepthink").getAttribute("aria-pressed") === "true";
const conv = () => state.conversations.find((c) => c.id === state.current);

// ---- rendering ----
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
const safeUrl = (href) => /^(https?:|mailto:|#|\/)/i.test(href || "");
marked.use({
  breaks: true,  // the model's line breaks are kept (reasoning is written line by line)
  renderer: {
    html: (html) => escapeHtml(typeof html === "string" ? html : html.text),
    link(href, title, text) {
      if (typeof href === "object") ({ href, title, text } = href);
      if (!safeUrl(href)) return text;
      return `<a href="${escapeHtml(href)}" rel="noopener noreferrer" target="_blank">${text}</a>`;
    },
    image(href, title, text) {
      if (typeof href === "object") ({ href, text } = href);
      return escapeHtml(text || "");
    },
  },
});

// R1's answers often put \boxed{...} outside any math delimiters: each one (braces balanced)
// becomes math too.
function boxed(text, emit) {
  let out = "", at = 0, i;
  while ((i = text.indexOf("\\boxed{", at)) >= 0) {
    let depth = 0, j = i + 6;
    for (; j < text.length; j++) {
      if (text[j] === "{") depth++;
      else if (text[j] === "}" && --depth === 0) break;
    }
    if (j >= text.length) break;
    out += text.slice(at, i) + emit(text.slice(i, j + 1));
    at = j + 1;
  }
  return out + text.slice(at);
}

// Markdown with math: code is set aside first (no math inside it), then $$...$$, \[...\],
// \(...\) and $...$ become KaTeX output behind placeholders that Markdown leaves alone.
function render(text) {
  const code = [], math = [];
  let t = text.replace(/```[\s\S]*?(```|$)|`[^`\n]*`/g, (m) => `\u0001C${code.push(m) - 1}\u0001`);
  const tex = (src, display) => {
    try {
      return katex.renderToString(src, { displayMode: display, throwOnError: false });
    } catch (e) {
      return escapeHtml(src);
    }
  };
  const put = (html) => `@@R1MATH${math.push(html) - 1}@@`;
  t = t.replace(/\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]/g, (m, a, b) => put(tex(a ?? b, true)));
  t = t.replace(/\\\(([\s\S]+?)\\\)|\$([^\s$](?:[^$\n]*?[^\s$\\])?)\$/g, (m, a, b) => put(tex(a ?? b, false)));
  t = boxed(t, (src) => put(tex(src, false)));
  t = t.replace(/\u0001C(\d+)\u0001/g, (m, i) => code[Number(i)]);
  let html = marked.parse(t);
  html = html.replace(/@@R1MATH(\d+)@@/g, (m, i) => math[Number(i)]);
  return html;
}

function messageView(m, index, last) {
  const div = document.createElement("div");
  div.className = `msg ${m.role}`;
  if (m.role === "user") {
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = m.content;
    div.appendChild(body);
    return div;
  }
  const body = document.createElement("div");
  body.className = "body";
  if (m.reasoning) {
    const d = document.createElement("details");
    d.className = "thought";
    d.open = !!m.thoughtOpen;
    d.addEventListener("toggle", () => { m.thoughtOpen = d.open; });
    const s = document.createElement("summary");
    s.textContent = m.thoughtSeconds != null ? `Thought for ${m.thoughtSeconds} s` : "Thinking…";
    const r = document.createElement("div");
    r.className = "reasoning";
    r.innerHTML = render(m.reasoning);
    d.append(s, r);
    body.appendChild(d);
  }
  const a = document.createElement("div");
  a.className = "answer";
  a.innerHTML = render(m.content || "");
  body.appendChild(a);
  div.appendChild(body);
  if (m.finish && m.finish !== "stop") {
    const f = document.createElement("div");
    f.className = "finish";
    f.textContent = m.finish === "length" ? "(cut at the token limit)" : `(${m.finish})`;
    div.appendChild(f);
  }
  if (last && !state.controller) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const regen = document.createElement("button");
    regen.className = "regenerate";
    regen.type = "button";
    regen.textContent = "Regenerate";
    regen.onclick = regenerate;
    actions.appendChild(regen);
    div.appendChild(actions);
  }
  return div;
}

function renderAll() {
  const list = $("conversations");
  list.textContent = "";
  for (const c of state.conversations) {
    const li = document.createElement("li");
    li.className = c.id === state.current ? "active" : "";
    const t = document.createElement("span");
    t.textContent = c.title || "New chat";
    const del = document.createElement("button");
    del.type = "button";
    del.title = "Delete";
    del.textContent = "×";
    del.onclick = (e) => {
      e.stopPropagation();
      state.conversations = state.conversations.filter((x) => x.id !== c.id);
      if (state.current === c.id) state.current = state.conversations[0]?.id ?? null;
      save();
      renderAll();
    };
    li.onclick = () => { if (!state.controller) { state.current = c.id; save(); renderAll(); } };
    li.append(t, del);
    list.appendChild(li);
  }
  const box = $("messages");
  box.textContent = "";
  const c = conv();
  if (c) c.messages.forEach((m, i) => box.appendChild(messageView(m, i, i === c.messages.length - 1)));
  box.scrollTop = box.scrollHeight;
  $("send").disabled = !!state.controller;
  $("stop").hidden = !state.controller;
}

let frame = 0;
function renderSoon() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderAll(); });
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

// ---- talking to the server ----
function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("api_key").value) h.Authorization = `Bearer ${$("api_key").value}`;
  return h;
}

async function loadModel() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error?.message || r.statusText);
    state.model = j.data[0].id;
    $("model-name").textContent = `model: ${state.model}`;
  } catch (e) {
    showError(`Cannot list models: ${e.message}`);
  }
}

function requestBody(c) {
  const messages = [];
  if ($("system").value.trim()) messages.push({ role: "system", content: $("system").value });
  for (const m of c.messages.slice(0, -1)) messages.push({ role: m.role, content: m.content || "" });
  const body = { model: state.model, messages, stream: true, thinking: c.thinking };
  const num = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  for (const id of ["temperature", "top_p", "max_tokens", "seed"]) if (num(id) !== undefined) body[id] = num(id);
  return body;
}

async function stream(c) {
  const m = c.messages[c.messages.length - 1];
  const t0 = performance.now();
  const thoughtDone = () => {
    if (m.reasoning && m.thoughtSeconds == null) m.thoughtSeconds = Math.max(1, Math.round((performance.now() - t0) / 1000));
  };
  state.controller = new AbortController();
  showError("");
  renderAll();
  try {
    if (!state.model) await loadModel();
    const res = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(requestBody(c)), signal: state.controller.signal,
    });
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      throw new Error(j.error?.message || `HTTP ${res.status}`);
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          for (const ch of j.choices || []) {
            if (ch.delta?.reasoning_content) m.reasoning = (m.reasoning || "") + ch.delta.reasoning_content;
            if (ch.delta?.content) { thoughtDone(); m.content = (m.content || "") + ch.delta.content; }
            if (ch.finish_reason) m.finish = ch.finish_reason;
          }
          renderSoon();
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") m.finish = "stopped";
    else showError(e.message);
  } finally {
    thoughtDone();
    state.controller = null;
    save();
    renderAll();
  }
}

function send(text) {
  if (state.controller || !text.trim()) return;
  let c = conv();
  if (!c) {
    c = { id: `${Date.now()}-${Math.random().toString(16).slice(2)}`, title: "", messages: [] };
    state.conversations.unshift(c);
    state.current = c.id;
  }
  if (!c.title) c.title = text.slice(0, 40);
  c.thinking = deepthink();
  c.messages.push({ role: "user", content: text }, { role: "assistant", content: "", reasoning: "" });
  save();
  stream(c);
}

function regenerate() {
  const c = conv();
  if (!c || state.controller || c.messages.length < 2) return;
  c.messages[c.messages.length - 1] = { role: "assistant", content: "", reasoning: "" };
  c.thinking = deepthink();
  stream(c);
}

// ---- wiring ----
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").onclick = () => state.controller?.abort();
$("deepthink").onclick = () => {
  $("deepthink").setAttribute("aria-pressed", deepthink() ? "false" : "true");
  save();
};
$("new-chat").onclick = () => {
  if (state.controller) return;
  state.current = null;
  save();
  renderAll();
  $("input").focus();
};
for (const id of ["temperature", "top_p", "max_tokens", "seed", "system", "api_key"]) $(id).addEventListener("change", save);
$("api_key").addEventListener("change", loadModel);

load();
renderAll();
loadModel();
