// The official `openai` npm client against a running `tinyr2 serve` (SPEC §14). Run by
// tests/serve/test_serve.cpp: node openai_client.js NPM_PREFIX CASE.json
//
// CASE.json: {port, key, greedy: {prompt, n, text}, chat: {messages, prompt_text, n, text},
//             sampled: {prompt, n, temperature, top_k, top_p, seed, text}}
// where every "text" is what `tinyr2 generate` printed for the same prompt and settings — the
// independent reference. Exits 0 when every check holds; prints the first failure otherwise.
"use strict";
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const [prefix, caseFile] = process.argv.slice(2);
const { OpenAI } = require(path.join(prefix, "node_modules", "openai"));
const c = JSON.parse(fs.readFileSync(caseFile, "utf8"));
const client = new OpenAI({ baseURL: `http://127.0.0.1:${c.port}/v1`, apiKey: c.key, maxRetries: 0,
                            timeout: 60000 });

async function completion(body) {
  return client.completions.create({ model: "m", ...body });
}
async function streamed(body) {
  const s = await client.completions.create({ model: "m", ...body, stream: true });
  let text = "", chunks = 0, finish = null;
  for await (const ch of s) {
    const choice = ch.choices[0];
    if (!choice) continue;
    text += choice.text || "";
    chunks += 1;
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { text, chunks, finish };
}
async function chat(body) {
  return client.chat.completions.create({ model: "m", ...body });
}
async function chatStreamed(body) {
  const s = await client.chat.completions.create({ model: "m", ...body, stream: true });
  let text = "", finish = null, role = null;
  for await (const ch of s) {
    const choice = ch.choices[0];
    if (!choice) continue;
    if (choice.delta.role) role = choice.delta.role;
    text += choice.delta.content || "";
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { text, finish, role };
}

const checks = [];
function check(name, fn) { checks.push([name, fn]); }

const g = c.greedy, sm = c.sampled;
const greedyBody = { prompt: g.prompt, max_tokens: g.n, temperature: 0 };
const sampledBody = { prompt: sm.prompt, max_tokens: sm.n, temperature: sm.temperature,
                      top_k: sm.top_k, top_p: sm.top_p, seed: sm.seed };

check("completions: greedy equals tinyr2 generate", async () => {
  const r = await completion(greedyBody);
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices[0].text, g.text);
  assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
  const tok = await fetch(`http://127.0.0.1:${c.port}/tokenize`, {
    method: "POST", headers: { Authorization: `Bearer ${c.key}` }, body: JSON.stringify({ content: g.prompt }) });
  assert.equal(r.usage.prompt_tokens, (await tok.json()).tokens.length);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

check("completions: streamed greedy equals the same text, in several chunks", async () => {
  const s = await streamed(greedyBody);
  assert.equal(s.text, g.text);
  assert.ok(s.chunks > 2, `only ${s.chunks} chunks`);
  assert.ok(s.finish === "length" || s.finish === "stop");
});

check("chat: greedy equals tinyr2 generate on the rendered prompt, streamed and not", async () => {
  const body = { messages: c.chat.messages, max_tokens: c.chat.n, temperature: 0 };
  const r = await chat(body);
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, c.chat.text);
  const s = await chatStreamed(body);
  assert.equal(s.text, c.chat.text);
  assert.equal(s.role, "assistant");
  assert.equal(s.finish, r.choices[0].finish_reason);
});

check("seed: the same seed reproduces tinyr2 generate -s; another seed differs", async () => {
  const a = await completion(sampledBody);
  const b = await streamed(sampledBody);
  assert.equal(a.choices[0].text, sm.text);
  assert.equal(b.text, sm.text);
  const other = await completion({ ...sampledBody, seed: sm.seed + 1 });
  assert.notEqual(other.choices[0].text, sm.text);
});

check("stop strings end the text before the stop, streamed and not", async () => {
  const cut = g.text.length >> 1;
  const stop = g.text.slice(cut, cut + 3);
  const expected = g.text.slice(0, g.text.indexOf(stop));
  for (const stops of [stop, ["zzzq-never", stop]]) {
    const r = await completion({ ...greedyBody, stop: stops });
    assert.equal(r.choices[0].text, expected);
    assert.equal(r.choices[0].finish_reason, "stop");
    const s = await streamed({ ...greedyBody, stop: stops });
    assert.equal(s.text, expected);
    assert.equal(s.finish, "stop");
  }
});

check("logprobs: greedy picks each step's most likely token; top lists sorted", async () => {
  const r = await completion({ ...greedyBody, logprobs: 3 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, r.usage.completion_tokens);
  assert.equal(lp.tokens.join(""), r.choices[0].text);
  for (let i = 0; i < lp.tokens.length; i++) {
    const top = Object.entries(lp.top_logprobs[i]);
    assert.ok(top.length >= 1 && top.length <= 3);
    const values = top.map(([, v]) => v).sort((x, y) => y - x);
    assert.ok(values.every((v) => v <= 0));
    assert.ok(Math.abs(lp.token_logprobs[i] - values[0]) < 1e-6, "greedy token is the top one");
    assert.ok(Math.abs(lp.top_logprobs[i][lp.tokens[i]] - values[0]) < 1e-6);
  }
  const probs = Object.values(lp.top_logprobs[0]).map(Math.exp);
  assert.ok(probs.reduce((x, y) => x + y, 0) <= 1 + 1e-6);
  const ch = await chat({ messages: c.chat.messages, max_tokens: 4, temperature: 0, logprobs: true,
                          top_logprobs: 2 });
  const content = ch.choices[0].logprobs.content;
  assert.equal(content.length, ch.usage.completion_tokens);
  assert.equal(content.map((t) => t.token).join(""), ch.choices[0].message.content);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(Math.abs(t.logprob - t.top_logprobs[0].logprob) < 1e-6);
  }
});

check("greedy output is unchanged with 8 other requests running", async () => {
  const others = [];
  for (let i = 0; i < 8; i++) {
    const body = i % 2 ? { ...sampledBody } : { prompt: `other ${i} ` + "x".repeat(i * 7), max_tokens: 40, top_k: 40,
                                                temperature: 0.9, seed: 100 + i };
    others.push(i % 3 ? streamed(body).then((s) => [body, s.text])
                      : completion(body).then((r) => [body, r.choices[0].text]));
  }
  await new Promise((res) => setTimeout(res, 30));
  const mine = await Promise.all([completion(greedyBody), streamed(greedyBody)]);
  assert.equal(mine[0].choices[0].text, g.text);
  assert.equal(mine[1].text, g.text);
  for (const [body, text] of await Promise.all(others))
    if (body.prompt === sm.prompt) assert.equal(text, sm.text, "a concurrent seeded request");
});

check("the API key is required", async () => {
  const bad = new OpenAI({ baseURL: `http://127.0.0.1:${c.port}/v1`, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.completions.create({ model: "m", prompt: "x", max_tokens: 1 }),
                       (e) => e.status === 401 && e.error && e.error.type === "authentication_error");
});

(async () => {
  for (const [name, fn] of checks) {
    try {
      const t0 = Date.now();
      await fn();
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      console.log(`FAIL ${name}\n${e.stack || e}`);
      process.exit(1);
    }
  }
})();
